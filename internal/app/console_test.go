package app_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/handy/handysim"
	"github.com/handybind/handybind/internal/money"
	"github.com/handybind/handybind/internal/testdb"
)

// screenshotsEnv names a folder to write a screenshot of each main console page to.
const screenshotsEnv = "HANDYBIND_SCREENSHOTS"

// browser starts Debian's Chromium, headless, for one test. CI installs it (.ci/run); elsewhere
// a machine without it cannot run the console tests, and says so.
func browser(t *testing.T) context.Context {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("chromium is not installed; .ci/run installs it")
		}
		t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 900))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	ctx, cancel3 := context.WithTimeout(ctx, 2*time.Minute)
	t.Cleanup(cancel3)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate("about:blank")), "starting chromium")
	return ctx
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// TestConsoleInChromium drives the operator console in a real Chromium, as a partner's
// implementer would: sign in with a key, see the tenant's connections and nothing of another
// tenant's, start a sales sync and watch its processed count change without reloading, filter
// its records to the waiting ones, try the waiting sales again, and preview a mapping with the
// rule of each field. A wrong key and a request without the session are refused.
func TestConsoleInChromium(t *testing.T) {
	t.Parallel()
	ctx := browser(t)
	h := startServer(t, testConfig(t, testdb.SQLite(t)))
	s := newSims(t)
	bg := context.Background()

	conn, _ := activeWithRun(t, h, s) // tenant acme, the harness's partner key
	require.Eventually(t, func() bool { return len(s.bind.Products()) == 1 }, 10*time.Second, 20*time.Millisecond)
	other, err := pb.NewConnectionServiceClient(dial(t, h.srv.GRPCAddr(), h.platformKey)).CreateConnection(bg, &pb.CreateConnectionRequest{
		Connection: func() *pb.Connection { c := s.connection("Beta Sur"); c.Tenant = "beta"; return c }()})
	require.NoError(t, err)

	// A backlog slow enough to watch (Bind takes 5 requests a second by default), and one sale
	// whose product is not in Bind: it waits.
	at := time.Now().UTC().Add(-time.Minute)
	const backlog = 40
	for i := range backlog {
		_, err := s.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: s.seller.ID, At: at.Add(time.Duration(i) * time.Millisecond),
			Lines: []handysim.Line{{Product: "E-001", Quantity: money.NewFromInt(1)}}})
		require.NoError(t, err)
	}
	s.handy.AddProduct("N-001", "Producto nuevo", money.MustParse("10"), handysim.IVA(16), time.Now())
	held, err := s.handy.CreateSale(handysim.Sale{Customer: "C-1", Seller: s.seller.ID, At: at, Lines: []handysim.Line{{Product: "N-001", Quantity: money.NewFromInt(1)}}})
	require.NoError(t, err)

	base := h.rest + "/console/"

	css := func(s string) chromedp.CSS { return chromedp.CSS(s) }
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		require.NoError(t, err)
		return v
	}
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Location())
		require.NoError(t, err)
		return v
	}

	// A wrong key is refused on the sign-in page.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(h.rest+"/"),
		chromedp.WaitVisible(css("#key")),
		chromedp.SendKeys(css("#key"), "hbk_aaaaaaaaaaaa_"+strings.Repeat("a", 52)),
		chromedp.Submit(css("#key")),
		chromedp.WaitVisible(css("p.error")),
	))
	require.Contains(t, text("p.error"), "not accepted")
	screenshot(t, ctx, "sign-in")

	// Signed in as acme's partner: its connection, healthy, and not beta's.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(css("#key"), h.key),
		chromedp.Submit(css("#key")),
		chromedp.WaitVisible(css("table")),
	))
	main := text("main")
	require.Contains(t, main, "Acme Norte")
	require.NotContains(t, main, "Beta Sur")
	screenshot(t, ctx, "connections")

	// The connection; start a sales sync and watch it move.
	var processed []int
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`a[href="/console/connections/`+conn.GetId()+`"]`)),
		chromedp.WaitVisible(css("#actions-h")),
	))
	screenshot(t, ctx, "connection")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[normalize-space()="Sync sales now"]`),
		chromedp.WaitVisible(css("#processed")),
	))
	runURL := location()
	require.Contains(t, runURL, "/console/runs/")
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		// Read in the page, in one go: the part is being replaced every two seconds.
		got, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[document.querySelector("#run-state")?.textContent ?? "", document.querySelector("#processed")?.textContent ?? ""]`))
		if err != nil || len(got) != 2 {
			time.Sleep(100 * time.Millisecond) // the page reloads once the run ends
			continue
		}
		state, p := strings.TrimSpace(got[0]), strings.TrimSpace(got[1])
		if p == "" || state == "" {
			time.Sleep(100 * time.Millisecond) // between the old page and the reloaded one
			continue
		}
		n, err := strconv.Atoi(p)
		require.NoError(t, err)
		if len(processed) == 0 || processed[len(processed)-1] != n {
			processed = append(processed, n)
		}
		if state != "running" && state != "queued" {
			require.Equal(t, "succeeded", state)
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.GreaterOrEqual(t, len(processed), 3, "processed changed on the page without a reload: %v", processed)
	require.IsIncreasing(t, processed)
	require.Equal(t, backlog+1, processed[len(processed)-1], "%v", processed)
	screenshot(t, ctx, "run")

	// Its records, filtered to the waiting ones: the held sale, and why.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(css(`a[href="?outcome=waiting"]`)),
		chromedp.WaitVisible(css("tr.item")),
	))
	rows := text("tbody")
	require.Contains(t, rows, strconv.FormatInt(held.ID, 10))
	require.Contains(t, rows, "not in Bind: N-001")

	// The waiting sales of the connection, tried again now: a new sales run starts.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"connections/"+conn.GetId()+"/waiting"),
		chromedp.WaitVisible(css("main table")),
		chromedp.Click(`//button[normalize-space()="Try again now"]`),
		chromedp.WaitVisible(css(".flash")),
	))
	again := location()
	require.Contains(t, again, "/console/runs/")
	require.NotEqual(t, runURL, again, "a new run")

	// A refused activation is shown at the field it concerns, with the valid names.
	draft := s.connection("Acme Sur")
	draft.Settings.Warehouse = "Bodega X"
	sur, err := h.connections.CreateConnection(bg, &pb.CreateConnectionRequest{Connection: draft})
	require.NoError(t, err)
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"connections/"+sur.GetId()),
		chromedp.Click(`//button[normalize-space()="Activate"]`),
		chromedp.WaitVisible(css(".field-error")),
	))
	fieldError := text(".field-error")
	require.Contains(t, fieldError, `"Bodega X" is not in Bind; the valid names are "Matriz"`)
	row, err := chromedp.Run(ctx, chromedp.Text(`//dt[normalize-space()="Warehouse"]/following-sibling::dd[1]`))
	require.NoError(t, err)
	require.Contains(t, row, "Bodega X", "the error sits with the warehouse")
	require.Contains(t, row, "the valid names are")

	// A mapping preview: each field with the rule that made it.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"preview"),
		chromedp.WaitVisible(css("#input")),
		chromedp.Click(`//button[normalize-space()="Preview"]`),
		chromedp.WaitVisible(css("tr.field")),
	))
	fields := text("tbody")
	require.Contains(t, fields, "IEPS")
	require.Contains(t, fields, "line.iepsRate / dec(100)")
	screenshot(t, ctx, "preview")

	// Another tenant's connection does not exist for this key.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Navigate(base+"connections/"+other.GetId()),
		chromedp.WaitVisible(css("h1")),
	))
	require.Equal(t, "Not found", text("h1"))

	// Signed out, the pages lead to the sign-in, and the live part answers 401.
	require.NoError(t, chromedp.Do(ctx,
		chromedp.Click(`//button[normalize-space()="Sign out"]`),
		chromedp.WaitVisible(css("#key")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := cdp.Call(ctx, tg, network.ClearBrowserCookies, cdp.Empty{})
			return err
		}),
		chromedp.Navigate(runURL),
		chromedp.WaitVisible(css("#key")),
	))
	require.Contains(t, location(), "/console/login?next=")
	req, _ := http.NewRequest(http.MethodGet, runURL[:strings.Index(runURL, "?")]+"/progress", nil)
	req.Header.Set("X-Console-Fragment", "1")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusUnauthorized, res.StatusCode)
}
