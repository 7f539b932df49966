// Package demo runs handybind against built-in Handy and Bind simulators seeded with a realistic
// company, through the same service and API a production deployment uses; only the two base URLs
// point at the simulators.
package demo

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/handybind/handybind/internal/bind"
	"github.com/handybind/handybind/internal/bind/bindsim"
	"github.com/handybind/handybind/internal/handy"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
)

// Tokens of the simulated accounts.
const (
	HandyToken = "demo-handy-token"
	BindToken  = "demo-bind-api-key"
)

// Company is what was seeded.
type Company struct {
	Sellers   []handy.User
	Customers []handy.Customer
	Products  []string        // product codes
	WithIEPS  map[string]bool // products whose lines carry IEPS
}

var productNames = []string{
	"Arroz blanco 1kg", "Frijol negro 1kg", "Aceite vegetal 1L", "Azúcar estándar 2kg", "Sal de mesa 1kg",
	"Harina de maíz 1kg", "Pasta para sopa 200g", "Atún en agua 140g", "Sardinas en tomate 425g", "Leche entera 1L",
	"Leche deslactosada 1L", "Yogur natural 1kg", "Queso fresco 400g", "Mantequilla 90g", "Huevo blanco 12 pzas",
	"Café soluble 200g", "Chocolate en polvo 400g", "Galletas marías 170g", "Cereal de maíz 500g", "Avena 800g",
	"Refresco de cola 600ml", "Agua natural 1.5L", "Jugo de naranja 1L", "Bebida isotónica 1L", "Cerveza clara 355ml",
	"Jabón de tocador 150g", "Detergente en polvo 1kg", "Suavizante de telas 850ml", "Cloro 1L", "Papel higiénico 4 rollos",
	"Servilletas 500 pzas", "Pasta dental 100ml", "Champú 400ml", "Desodorante 150ml", "Toallas húmedas 80 pzas",
	"Chiles jalapeños 220g", "Salsa picante 150ml", "Mayonesa 390g", "Mostaza 210g", "Catsup 397g",
	"Puré de tomate 210g", "Consomé de pollo 12 cubos", "Gelatina de fresa 120g", "Mermelada de fresa 270g", "Miel de abeja 300g",
	"Tortillas de harina 10 pzas", "Pan de caja 680g", "Frituras de maíz 150g", "Cacahuates japoneses 200g", "Palomitas 3 sobres",
}

var customerNames = []string{
	"Abarrotes Lupita", "Tienda Don Pepe", "Miscelánea La Esperanza", "Super Los Pinos", "Abarrotes El Sol",
	"Minisúper La Estrella", "Cremería San Juan", "Tienda La Económica", "Abarrotes Doña Mary", "Comercial Hermanos Ruiz",
	"Tiendita El Güero", "Abarrotes La Bendición", "Súper Familiar", "Miscelánea Las Palmas", "Abarrotes El Trébol",
	"Depósito La Fuente", "Tienda Santa Fe", "Abarrotes Mi Ranchito", "Súper Del Valle", "Miscelánea El Rosario",
}

// SeedBind gives the Bind company its catalogs: two price lists, MXN, three locations with their
// warehouses, and ledger accounts.
func SeedBind(b *bindsim.Sim) {
	b.AddToken(BindToken, bind.UserProfile{Name: "Administrador Bind", Email: "admin@distribuidora.example", Username: "admin", CompanyName: "Distribuidora del Norte SA de CV"})
	b.AddPriceList("Lista General")
	b.AddPriceList("Mayoreo")
	b.AddCurrency("MXN", "Peso mexicano")
	b.AddCurrency("USD", "Dólar americano")
	b.AddWarehouse("Almacén Matriz", b.AddLocation("Matriz Monterrey"))
	b.AddWarehouse("Almacén Norte", b.AddLocation("Sucursal Apodaca"))
	b.AddWarehouse("Almacén Sur", b.AddLocation("Sucursal Santa Catarina"))
	b.AddAccount("105-01-001", "Clientes nacionales")
	b.AddAccount("105-01-002", "Clientes mostrador")
}

// SeedHandy gives the Handy account 5 sellers (2 with a warehouse in extras), 20 customers (some
// without RFC) and 50 products: most with 16% VAT, basic food VAT-exempt, snacks and drinks with
// IEPS as well.
func SeedHandy(h *handysim.Sim, r *rand.Rand, at time.Time) Company {
	h.AddToken(HandyToken)
	var c Company
	for _, s := range []struct{ name, email, extras string }{
		{"Beto Ventas", "beto@distribuidora.example", "Almacén Norte"},
		{"Carla Ruta", "carla@distribuidora.example", "Almacén Sur"},
		{"Diego Preventa", "diego@distribuidora.example", ""},
		{"Elena Campo", "elena@distribuidora.example", ""},
		{"Fernando Mayoreo", "fernando@distribuidora.example", ""},
	} {
		c.Sellers = append(c.Sellers, h.AddUser(handy.User{Name: s.name, Username: s.email, Enabled: true, Extras: s.extras}))
	}
	for i, name := range customerNames {
		rfc := ""
		if i%3 == 0 {
			rfc = fmt.Sprintf("DEM%c%06dA%d%d", 'A'+rune(i%26), 800101+i, i%10, (i+3)%10)
		}
		c.Customers = append(c.Customers, h.AddCustomer(handy.Customer{
			Code: fmt.Sprintf("CLI-%03d", i+1), Description: name, RFC: rfc, Address: fmt.Sprintf("Av. Juárez %d", 100+i),
			Neighborhood: "Centro", City: "Monterrey", PostalCode: "64000",
		}))
	}
	c.WithIEPS = map[string]bool{}
	for i, name := range productNames {
		base := money.New(int64(900+r.IntN(20000)), -2) // 9.00 to 209.00 before tax
		code := fmt.Sprintf("P-%03d", i+1)
		switch {
		case exempt[i]:
			h.AddProduct(code, name, base, handysim.IVA(0), at)
		case ieps[i] != 0:
			h.AddProductWithOptionalTax(code, name, base, handysim.IVA(16), handysim.IEPS(ieps[i]), at)
			c.WithIEPS[code] = true
		default:
			h.AddProduct(code, name, base, handysim.IVA(16), at)
		}
		c.Products = append(c.Products, code)
	}
	return c
}

// The taxes of a Mexican distributor's goods, by index in productNames: basic food is VAT-exempt
// (0%); snacks, sweets and soft drinks carry 8% IEPS, beer 26%, on top of 16% VAT.
var (
	exempt = map[int]bool{0: true, 1: true, 2: true, 3: true, 4: true, 5: true, 6: true, 7: true, 8: true,
		9: true, 10: true, 11: true, 12: true, 13: true, 14: true, 19: true, 45: true, 46: true}
	ieps = map[int]int64{16: 8, 17: 8, 18: 8, 20: 8, 24: 26, 47: 8, 48: 8, 49: 8}
)
