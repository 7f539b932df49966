package bindsim

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeRequestRefusesWhatTheDefinitionDoesNotSay(t *testing.T) {
	t.Parallel()
	const id = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
	// order is a NewOrder body: the required header, then the properties given; one given again
	// replaces the header's, since the last of two equal names wins.
	order := func(more string) string {
		return `{"AddressID":"` + id + `","ClientID":"` + id + `","CurrencyID":"` + id + `","LocationID":"` + id +
			`","PriceListID":"` + id + `","OrderDate":"2026-01-02T10:00:00"` + more + `,"WarehouseID":"` + id + `"}`
	}
	line := func(props string) string { return order(`,"Products":[{` + props + `}]`) }
	for name, tc := range map[string]struct {
		into       any
		body, want string
	}{
		"a misspelt optional property":   {&newOrder{}, order(`,"PurchaseOrdr":"H-1"`), `'PurchaseOrdr' is not a property of NewOrder.`},
		"a property with other capitals": {&newOrder{}, order(`,"VatRate":0.16`), `'VatRate' is not a property of NewOrder.`},
		"required properties left out":   {&newOrder{}, `{"ClientID":"` + id + `"}`, `The AddressID, CurrencyID, LocationID, OrderDate, PriceListID, WarehouseID field is required.`},
		"a required property null":       {&newOrder{}, line(`"ID":null,"Price":1,"Qty":1`), `Products[0]: The ID field is required.`},
		"an empty required string":       {&newOrder{}, order(`,"AddressID":""`), `The AddressID field is required.`},
		"a misspelt property of a line":  {&newOrder{}, line(`"ID":"` + id + `","Price":1,"Qty":1,"Comment":"x"`), `Products[0]: 'Comment' is not a property of NewOrderProduct.`},
		"a quoted amount":                {&newOrder{}, line(`"ID":"` + id + `","Price":"1","Qty":1`), `is not a number`},
		"a date-time that is not one":    {&newOrder{}, order(`,"OrderDate":"ayer"`), `not a date-time`},
		"not an object":                  {&newOrder{}, `[1]`, `not a JSON object`},
		"two values":                     {&newOrder{}, `{} {}`, `not JSON`},
		"every problem named at once": {&newOrder{}, `{"Extra":1,"Products":[{"Qty":1,"Colour":"red"}]}`,
			`The AddressID, ClientID, CurrencyID, LocationID, OrderDate, PriceListID, WarehouseID field is required. 'Extra' is not a property of NewOrder. Products[0]: The ID, Price field is required. Products[0]: 'Colour' is not a property of NewOrderProduct.`},
		"NewProduct with CurrencyID": {&newProduct{}, `{"Title":"t","Cost":1,"Price":1,"CurrencyID":"` + id + `","Code":"c"}`,
			`The CurrencyId field is required. 'CurrencyID' is not a property of NewProduct.`},
		"EditProduct with CurrencyId": {&editProduct{}, `{"ID":"` + id + `","Title":"t","Cost":1,"CurrencyId":"` + id + `","Code":"c"}`,
			`The CurrencyID field is required. 'CurrencyId' is not a property of EditProduct.`},
		"a misspelt property of an address": {&newClient{}, `{"LegalName":"a","CommercialName":"a","RFC":"XAXX010101000","CreditDays":0,"CreditAmount":0,"PriceListID":"` + id + `","AccountingNumber":"1","Address":{"Streetname":"x"}}`,
			`Address: 'Streetname' is not a property of NewAddress.`},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := decodeRequest([]byte(tc.body), tc.into)
			require.Error(t, err)
			require.Contains(t, err.Error(), tc.want)
		})
	}

	var o newOrder
	require.NoError(t, decodeRequest([]byte(line(`"ID":"`+id+`","Price":86.2069,"Qty":2`)), &o))
	require.Equal(t, "86.2069", o.Products[0].Price.String())
	require.Nil(t, o.VATRate, "a VATRate left out is told apart from 0")
	require.Equal(t, "2026-01-02T10:00:00", o.OrderDate.Format(dateTimeLayout))
}
