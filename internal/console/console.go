// Package console is the operator console: server-rendered pages at /console/ on the HTTP port.
// It is a client of the public API like any other: every page calls the gRPC services with the
// signed-in user's API key, so the same roles and tenant rules apply, and it holds no data of
// its own. The key lives only in a sealed, http-only, same-site cookie.
package console

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/handybind/handybind/internal/secret"
)

// Prefix is where the console is served.
const Prefix = "/console/"

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

const (
	cookieName = "handybind_session"
	sessionAAD = "console/session"
	// sessionTTL is how long a sign-in lasts; the key itself is checked on every page.
	sessionTTL = 12 * time.Hour
)

// Options configure the console.
type Options struct {
	// Conn reaches the service's own gRPC API (the in-process gateway connection).
	Conn *grpc.ClientConn
	// Keys seal the session cookie.
	Keys *secret.Keyring
	// Secure marks the cookie Secure (the HTTP port has TLS).
	Secure bool
	// Sessions keeps the sign-ins, so that signing out ends one everywhere at once.
	Sessions Sessions
	Log      *slog.Logger
}

// Sessions keeps console sign-ins by id.
type Sessions interface {
	PutConsoleSession(ctx context.Context, id string, expires time.Time) error
	ConsoleSessionActive(ctx context.Context, id string) (bool, error)
	DeleteConsoleSession(ctx context.Context, id string) error
}

// Console serves the pages.
type Console struct {
	o     Options
	pages map[string]*template.Template
}

// New parses the templates.
func New(o Options) (*Console, error) {
	c := &Console{o: o, pages: map[string]*template.Template{}}
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		base := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", n, err)
		}
		c.pages[base] = t
	}
	return c, nil
}

// Handler returns the console's routes, to be mounted at Prefix, with its security headers.
func (c *Console) Handler() http.Handler {
	mux := http.NewServeMux()
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET "+Prefix+"static/", http.StripPrefix(Prefix+"static/", http.FileServer(http.FS(static))))
	mux.HandleFunc("GET "+Prefix+"login", c.loginPage)
	mux.HandleFunc("POST "+Prefix+"login", c.login)
	mux.HandleFunc("POST "+Prefix+"logout", c.signedIn(c.logout))
	mux.HandleFunc("GET "+Prefix+"{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"connections", http.StatusSeeOther)
	})
	mux.HandleFunc("GET "+Prefix+"connections", c.signedIn(c.connections))
	mux.HandleFunc("GET "+Prefix+"connections/{id}", c.signedIn(c.connection))
	mux.HandleFunc("POST "+Prefix+"connections/{id}/{action}", c.signedIn(c.connectionAction))
	mux.HandleFunc("GET "+Prefix+"connections/{id}/runs", c.signedIn(c.runs))
	mux.HandleFunc("GET "+Prefix+"connections/{id}/waiting", c.signedIn(c.waiting))
	mux.HandleFunc("GET "+Prefix+"runs/{id}", c.signedIn(c.run))
	mux.HandleFunc("GET "+Prefix+"runs/{id}/progress", c.signedIn(c.runProgress))
	mux.HandleFunc("GET "+Prefix+"preview", c.signedIn(c.previewPage))
	mux.HandleFunc("POST "+Prefix+"preview", c.signedIn(c.preview))
	mux.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		c.render(w, r, "error", http.StatusNotFound, page{Title: "Not found", Error: "There is no such page in the console."})
	})
	return headers(ids(mux))
}

// ids answers 404 for a path whose record id is not an id at all (not UTF-8, not a UUID), before
// anything calls the API with it.
func ids(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rest := strings.TrimPrefix(r.URL.Path, Prefix)
		for _, kind := range []string{"connections/", "runs/"} {
			if after, ok := strings.CutPrefix(rest, kind); ok {
				id, _, _ := strings.Cut(after, "/")
				if !uuidPattern.MatchString(id) {
					w.Header().Set("Content-Type", "text/plain; charset=utf-8")
					http.Error(w, "no such "+strings.TrimSuffix(kind, "s/")+": the id is not a UUID", http.StatusNotFound)
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// flashes are the only messages a page shows from its URL: a code names one of them, so that a
// link cannot make the console say anything else.
var flashes = map[string]string{
	"queued":    "Sync queued.",
	"activated": "Activated: the first product sync is queued.",
	"paused":    "Paused: no sync runs until it is activated again.",
	"signedout": "Signed out.",
}

// headers sets the console's security headers: scripts and styles only from the console itself
// (no inline script), never framed, no referrer, and pages never cached (they show live data
// of a signed-in user).
func headers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Content-Type-Options", "nosniff")
		if !strings.HasPrefix(r.URL.Path, Prefix+"static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// session is what the sealed cookie holds.
type session struct {
	ID      string    `json:"i"` // the sign-in, kept server-side until it ends
	Key     string    `json:"k"`
	CSRF    string    `json:"c"`
	Expires time.Time `json:"e"`
}

func (c *Console) readSession(r *http.Request) (*session, bool) {
	ck, err := r.Cookie(cookieName)
	if err != nil {
		return nil, false
	}
	keyID, body, ok := strings.Cut(ck.Value, ".")
	if !ok {
		return nil, false
	}
	ct, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		return nil, false
	}
	plain, err := c.o.Keys.Open(secret.Sealed{KeyID: keyID, Ciphertext: ct}, sessionAAD)
	if err != nil || plain == "" {
		return nil, false
	}
	var s session
	if json.Unmarshal([]byte(plain), &s) != nil || time.Now().After(s.Expires) || s.Key == "" || s.ID == "" {
		return nil, false
	}
	if active, err := c.o.Sessions.ConsoleSessionActive(r.Context(), s.ID); err != nil || !active {
		return nil, false
	}
	return &s, true
}

func (c *Console) writeSession(w http.ResponseWriter, s *session) error {
	b, _ := json.Marshal(s)
	sealed, err := c.o.Keys.Seal(string(b), sessionAAD)
	if err != nil {
		return err
	}
	http.SetCookie(w, &http.Cookie{
		Name: cookieName, Value: sealed.KeyID + "." + base64.RawURLEncoding.EncodeToString(sealed.Ciphertext),
		Path: Prefix, Expires: s.Expires, HttpOnly: true, Secure: c.o.Secure, SameSite: http.SameSiteStrictMode,
	})
	return nil
}

func (c *Console) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: Prefix, MaxAge: -1, HttpOnly: true, Secure: c.o.Secure, SameSite: http.SameSiteStrictMode})
}

type ctxKey struct{}

// signedIn runs h with the session's key on the context, checking the CSRF token of every form
// that changes something; without a session a page sends to the sign-in, anything else is 401.
func (c *Console) signedIn(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := c.readSession(r)
		if !ok {
			if r.Method == http.MethodGet && r.Header.Get("X-Console-Fragment") == "" {
				http.Redirect(w, r, Prefix+"login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			http.Error(w, "sign in first", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet {
			r.Body = http.MaxBytesReader(w, r.Body, maxForm)
			if err := r.ParseForm(); err != nil {
				formError(w, err)
				return
			}
			if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(s.CSRF)) != 1 {
				http.Error(w, "this form has expired or did not come from the console; reload the page and try again", http.StatusForbidden)
				return
			}
		}
		h(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, s)))
	}
}

// maxForm bounds a console form: a pasted sale for the preview is the largest.
const maxForm = 1 << 20

// formError answers a form that could not be read: too large is 413, anything else 400.
func formError(w http.ResponseWriter, err error) {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		http.Error(w, fmt.Sprintf("the form is larger than %d bytes", tooBig.Limit), http.StatusRequestEntityTooLarge)
		return
	}
	http.Error(w, "the form could not be read", http.StatusBadRequest)
}

func sessionOf(r *http.Request) *session { s, _ := r.Context().Value(ctxKey{}).(*session); return s }

// api returns a context that calls the API with the signed-in key.
func api(r *http.Request) context.Context { return withKey(r, sessionOf(r).Key) }

func withKey(r *http.Request, key string) context.Context {
	return metadata.AppendToOutgoingContext(r.Context(), "authorization", "Bearer "+key)
}

// page is what every template gets.
type page struct {
	Title    string
	CSRF     string
	Nav      string
	Flash    string
	Error    string
	Data     any
	SignedIn bool
}

func (c *Console) render(w http.ResponseWriter, r *http.Request, name string, status int, p page) {
	if s := sessionOf(r); s != nil {
		p.CSRF, p.SignedIn = s.CSRF, true
	}
	if p.Flash == "" {
		p.Flash = flashes[r.URL.Query().Get("flash")]
	}
	t, ok := c.pages[name]
	if !ok {
		http.Error(w, "no such page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if err := t.Execute(w, p); err != nil {
		c.o.Log.Error("console page", "page", name, "error", err)
	}
}

// fail shows an API error in words; a key that stopped working ends the session.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	st := status.Convert(err)
	switch st.Code() {
	case codes.Unauthenticated:
		c.clearSession(w)
		c.render(w, r, "login", http.StatusUnauthorized, page{Title: "Sign in", Error: "Your API key is no longer accepted (revoked or expired). Sign in with a valid key."})
		return
	case codes.NotFound:
		c.render(w, r, "error", http.StatusNotFound, page{Title: "Not found", Error: st.Message()})
		return
	case codes.PermissionDenied:
		c.render(w, r, "error", http.StatusForbidden, page{Title: "Not allowed", Error: st.Message()})
		return
	case codes.InvalidArgument, codes.FailedPrecondition:
		c.render(w, r, "error", http.StatusBadRequest, page{Title: "Refused", Error: st.Message()})
		return
	}
	c.o.Log.Warn("console API call", "code", st.Code().String(), "error", st.Message())
	c.render(w, r, "error", http.StatusBadGateway, page{Title: "Something went wrong", Error: "The service could not answer (" + st.Code().String() + "); try again."})
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
