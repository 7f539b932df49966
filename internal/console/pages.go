package console

import (
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/handybind/handybind/gen/handybind/v1"
)

var funcs = template.FuncMap{
	"lower": strings.ToLower,
	"state": func(s fmt.Stringer) string {
		name := s.String()
		if i := strings.LastIndex(name, "_STATE_"); i >= 0 {
			name = name[i+len("_STATE_"):]
		}
		for _, p := range []string{"SYNC_KIND_", "RUN_TRIGGER_", "RUN_ITEM_OUTCOME_", "RUN_ITEM_ENTITY_"} {
			name = strings.TrimPrefix(name, p)
		}
		return strings.ReplaceAll(strings.ToLower(name), "_", " ")
	},
	// when shows a time in the connection's zone, with the zone named.
	"when": func(ts *timestamppb.Timestamp, zone string) string {
		if ts == nil {
			return "—"
		}
		loc, err := time.LoadLocation(zone)
		if err != nil || zone == "" {
			loc, zone = time.UTC, "UTC"
		}
		return ts.AsTime().In(loc).Format("2006-01-02 15:04:05") + " " + zone
	},
	"pct": func(done, total int32) int32 {
		if total <= 0 {
			return 0
		}
		return min(100, done*100/total)
	},
	// rate is a run's records per second so far and, while it runs with a known total, the time left.
	"rate": func(r *pb.Run) string {
		if r.GetStartTime() == nil || r.GetProcessed() == 0 {
			return ""
		}
		end := time.Now()
		if r.GetFinishTime() != nil {
			end = r.GetFinishTime().AsTime()
		}
		secs := end.Sub(r.GetStartTime().AsTime()).Seconds()
		if secs <= 0 {
			return ""
		}
		perSec := float64(r.GetProcessed()) / secs
		out := fmt.Sprintf("%.1f per second", perSec)
		if r.GetFinishTime() == nil && r.Total != nil && r.GetTotal() > r.GetProcessed() {
			left := time.Duration(float64(r.GetTotal()-r.GetProcessed())/perSec) * time.Second
			out += fmt.Sprintf(", about %s left", left.Round(time.Second))
		}
		return out
	},
	"list": func(v ...string) []string { return v },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

// Sign-in.

func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.readSession(r); ok {
		http.Redirect(w, r, Prefix+"connections", http.StatusSeeOther)
		return
	}
	c.render(w, r, "login", http.StatusOK, page{Title: "Sign in", Data: safeNext(r.URL.Query().Get("next"))})
}

// safeNext keeps a post-sign-in destination inside the console: a path (never a host), cleaned
// of dot segments, under the console's prefix.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.Contains(next, "\\") || strings.HasPrefix(next, "//") {
		return Prefix + "connections"
	}
	clean := path.Clean(u.Path)
	if !strings.HasPrefix(clean+"/", Prefix) {
		return Prefix + "connections"
	}
	u.Path = clean
	return u.RequestURI()
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 4096)
	if err := r.ParseForm(); err != nil {
		formError(w, err)
		return
	}
	key := strings.TrimSpace(r.PostFormValue("key"))
	next := safeNext(r.PostFormValue("next"))
	if key == "" {
		c.render(w, r, "login", http.StatusBadRequest, page{Title: "Sign in", Error: "Enter your API key (it starts with hbk_).", Data: next})
		return
	}
	// The key is tried on the API before it is kept: a wrong or revoked key is said at once.
	ctx := withKey(r, key)
	if _, err := pb.NewConnectionServiceClient(c.o.Conn).ListConnections(ctx, &pb.ListConnectionsRequest{PageSize: 1}); err != nil {
		st := status.Convert(err)
		msg := "This API key is not accepted: it is wrong, revoked or expired."
		if st.Code().String() == "PermissionDenied" {
			msg = "This API key's role cannot use the console (it needs to read connections)."
		}
		c.render(w, r, "login", http.StatusUnauthorized, page{Title: "Sign in", Error: msg, Data: next})
		return
	}
	sess := &session{ID: newToken(), Key: key, CSRF: newToken(), Expires: time.Now().Add(sessionTTL)}
	if err := c.o.Sessions.PutConsoleSession(r.Context(), sess.ID, sess.Expires); err != nil {
		c.render(w, r, "error", http.StatusInternalServerError, page{Title: "Sign in", Error: "The session could not be made."})
		return
	}
	if err := c.writeSession(w, sess); err != nil {
		c.render(w, r, "error", http.StatusInternalServerError, page{Title: "Sign in", Error: "The session could not be made."})
		return
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if err := c.o.Sessions.DeleteConsoleSession(r.Context(), sessionOf(r).ID); err != nil {
		c.render(w, r, "error", http.StatusInternalServerError, page{Title: "Sign out", Error: "Signing out failed; try again."})
		return
	}
	c.clearSession(w)
	http.Redirect(w, r, Prefix+"login?flash=signedout", http.StatusSeeOther)
}

// Connections.

type connectionsData struct {
	Query, Next, State string
	Connections        []*pb.Connection
}

func (c *Console) connections(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req := &pb.ListConnectionsRequest{PageSize: 25, PageToken: q.Get("page")}
	if v, ok := pb.ConnectionState_value["CONNECTION_STATE_"+strings.ToUpper(q.Get("state"))]; ok && q.Get("state") != "" {
		req.State = pb.ConnectionState(v)
	}
	res, err := pb.NewConnectionServiceClient(c.o.Conn).ListConnections(api(r), req)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := connectionsData{Query: q.Get("q"), Next: res.GetNextPageToken(), State: q.Get("state")}
	for _, conn := range res.GetConnections() {
		if d.Query == "" || strings.Contains(strings.ToLower(conn.GetDisplayName()), strings.ToLower(d.Query)) {
			d.Connections = append(d.Connections, conn)
		}
	}
	c.render(w, r, "connections", http.StatusOK, page{Title: "Connections", Nav: "connections", Data: d})
}

type connectionData struct {
	C      *pb.Connection
	Zone   string
	Errors map[string]string // field → what is wrong, from a refused activation
	Runs   []*pb.Run
	Kinds  []pb.SyncKind
}

func (c *Console) loadConnection(w http.ResponseWriter, r *http.Request) (*connectionData, bool) {
	conn, err := pb.NewConnectionServiceClient(c.o.Conn).GetConnection(api(r), &pb.GetConnectionRequest{Id: r.PathValue("id")})
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	return &connectionData{C: conn, Zone: conn.GetSettings().GetTimeZone(),
		Kinds: []pb.SyncKind{pb.SyncKind_SYNC_KIND_PRODUCTS, pb.SyncKind_SYNC_KIND_SALES, pb.SyncKind_SYNC_KIND_DELETED_SALES}}, true
}

func (c *Console) connection(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadConnection(w, r)
	if !ok {
		return
	}
	runs, err := pb.NewRunServiceClient(c.o.Conn).ListRuns(api(r), &pb.ListRunsRequest{ConnectionId: d.C.GetId(), PageSize: 10})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Runs = runs.GetRuns()
	c.render(w, r, "connection", http.StatusOK, page{Title: d.C.GetDisplayName(), Nav: "connections", Data: d})
}

// connectionAction activates, pauses, or triggers a sync; a refused activation is shown next to
// the fields it concerns.
func (c *Console) connectionAction(w http.ResponseWriter, r *http.Request) {
	id, action := r.PathValue("id"), r.PathValue("action")
	ctx := api(r)
	conns := pb.NewConnectionServiceClient(c.o.Conn)
	var err error
	flash := ""
	switch action {
	case "activate":
		_, err = conns.ActivateConnection(ctx, &pb.ActivateConnectionRequest{Id: id})
		flash = "activated"
	case "pause":
		_, err = conns.PauseConnection(ctx, &pb.PauseConnectionRequest{Id: id})
		flash = "paused"
	case "sync":
		kind, ok := pb.SyncKind_value[r.PostFormValue("kind")]
		if !ok || kind == 0 {
			c.render(w, r, "error", http.StatusBadRequest, page{Title: "Refused", Error: "kind must be one of products, sales or deleted sales"})
			return
		}
		var run *pb.Run
		run, err = pb.NewRunServiceClient(c.o.Conn).TriggerSync(ctx, &pb.TriggerSyncRequest{ConnectionId: id, Kind: pb.SyncKind(kind)})
		if err == nil {
			http.Redirect(w, r, Prefix+"runs/"+url.PathEscape(run.GetId())+"?flash=queued", http.StatusSeeOther)
			return
		}
	default:
		c.render(w, r, "error", http.StatusNotFound, page{Title: "Not found", Error: "There is no such action."})
		return
	}
	if err != nil {
		st := status.Convert(err)
		if fields := fieldErrors(st); len(fields) > 0 {
			d, ok := c.loadConnection(w, r)
			if !ok {
				return
			}
			d.Errors = fields
			if runs, err := pb.NewRunServiceClient(c.o.Conn).ListRuns(api(r), &pb.ListRunsRequest{ConnectionId: id, PageSize: 10}); err == nil {
				d.Runs = runs.GetRuns()
			}
			c.render(w, r, "connection", http.StatusBadRequest, page{Title: d.C.GetDisplayName(), Nav: "connections", Error: st.Message(), Data: d})
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"connections/"+url.PathEscape(id)+"?flash="+flash, http.StatusSeeOther)
}

// fieldErrors reads the field violations of a refusal, keyed by the field's last name
// (settings.price_list → price_list).
func fieldErrors(st *status.Status) map[string]string {
	out := map[string]string{}
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok {
			for _, v := range br.GetFieldViolations() {
				f := v.GetField()
				if i := strings.LastIndex(f, "."); i >= 0 {
					f = f[i+1:]
				}
				out[f] = v.GetDescription()
			}
		}
	}
	return out
}

// Runs.

type runsData struct {
	C           *pb.Connection
	Zone        string
	Runs        []*pb.Run
	Kind, State string
	Next        string
}

func (c *Console) runs(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadConnection(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	req := &pb.ListRunsRequest{ConnectionId: d.C.GetId(), PageSize: 50, PageToken: q.Get("page")}
	if v, ok := pb.SyncKind_value["SYNC_KIND_"+strings.ToUpper(q.Get("kind"))]; ok && q.Get("kind") != "" {
		req.Kind = pb.SyncKind(v)
	}
	if v, ok := pb.RunState_value["RUN_STATE_"+strings.ToUpper(q.Get("state"))]; ok && q.Get("state") != "" {
		req.State = pb.RunState(v)
	}
	res, err := pb.NewRunServiceClient(c.o.Conn).ListRuns(api(r), req)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.render(w, r, "runs", http.StatusOK, page{Title: "Runs of " + d.C.GetDisplayName(), Nav: "connections", Data: runsData{
		C: d.C, Zone: d.Zone, Runs: res.GetRuns(), Kind: q.Get("kind"), State: q.Get("state"), Next: res.GetNextPageToken()}})
}

type runData struct {
	Run     *pb.Run
	C       *pb.Connection
	Zone    string
	Items   []*pb.RunItem
	Outcome string
	Next    string
	Live    bool
}

var outcomes = []string{"created", "updated", "unchanged", "waiting", "failed", "deleted", "skipped"}

func (c *Console) loadRun(w http.ResponseWriter, r *http.Request) (*runData, bool) {
	run, err := pb.NewRunServiceClient(c.o.Conn).GetRun(api(r), &pb.GetRunRequest{Id: r.PathValue("id")})
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	conn, err := pb.NewConnectionServiceClient(c.o.Conn).GetConnection(api(r), &pb.GetConnectionRequest{Id: run.GetConnectionId()})
	if err != nil {
		c.fail(w, r, err)
		return nil, false
	}
	live := run.GetState() == pb.RunState_RUN_STATE_QUEUED || run.GetState() == pb.RunState_RUN_STATE_RUNNING
	return &runData{Run: run, C: conn, Zone: conn.GetSettings().GetTimeZone(), Live: live}, true
}

func (c *Console) run(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadRun(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	req := &pb.ListRunItemsRequest{RunId: d.Run.GetId(), PageSize: 100, PageToken: q.Get("page")}
	if o := q.Get("outcome"); o != "" {
		v, ok := pb.RunItemOutcome_value["RUN_ITEM_OUTCOME_"+strings.ToUpper(o)]
		if !ok {
			c.render(w, r, "error", http.StatusBadRequest, page{Title: "Refused", Error: fmt.Sprintf("outcome %q is not one of %s", o, strings.Join(outcomes, ", "))})
			return
		}
		req.Outcome, d.Outcome = pb.RunItemOutcome(v), o
	}
	items, err := pb.NewRunServiceClient(c.o.Conn).ListRunItems(api(r), req)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Items, d.Next = items.GetItems(), items.GetNextPageToken()
	c.render(w, r, "run", http.StatusOK, page{Title: "Run", Nav: "connections", Data: d})
}

// runProgress is the part of a run's page that updates while it runs (console.js asks for it).
func (c *Console) runProgress(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadRun(w, r)
	if !ok {
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := c.pages["run"].ExecuteTemplate(w, "progress", d); err != nil {
		c.o.Log.Error("console progress", "error", err)
	}
}

// Waiting sales: the waiting items of the connection's last finished sales run.

type waitingData struct {
	C     *pb.Connection
	Zone  string
	Run   *pb.Run
	Items []*pb.RunItem
}

func (c *Console) waiting(w http.ResponseWriter, r *http.Request) {
	d, ok := c.loadConnection(w, r)
	if !ok {
		return
	}
	out := waitingData{C: d.C, Zone: d.Zone}
	runs := pb.NewRunServiceClient(c.o.Conn)
	res, err := runs.ListRuns(api(r), &pb.ListRunsRequest{ConnectionId: d.C.GetId(), Kind: pb.SyncKind_SYNC_KIND_SALES, PageSize: 20})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	for _, run := range res.GetRuns() {
		if s := run.GetState(); s == pb.RunState_RUN_STATE_SUCCEEDED || s == pb.RunState_RUN_STATE_PARTIAL {
			out.Run = run
			break
		}
	}
	if out.Run != nil {
		items, err := runs.ListRunItems(api(r), &pb.ListRunItemsRequest{RunId: out.Run.GetId(), PageSize: 1000, Outcome: pb.RunItemOutcome_RUN_ITEM_OUTCOME_WAITING})
		if err != nil {
			c.fail(w, r, err)
			return
		}
		out.Items = items.GetItems()
	}
	c.render(w, r, "waiting", http.StatusOK, page{Title: "Waiting sales of " + d.C.GetDisplayName(), Nav: "connections", Data: out})
}

// Mapping preview.

type previewData struct {
	Versions []*pb.Mapping
	Version  string
	Target   string
	Input    string
	Payload  string
	Fields   []*pb.FieldExplanation
	Targets  []string
}

var sampleInputs = map[string]string{
	"order_line": `{"line": {"index": 0, "productCode": "R-600", "quantity": 6, "price": 18.6, "total": 111.6, "taxRate": 24, "vatRate": 16, "iepsRate": 8, "unit": "PZA"}, "sale": {"id": 1}, "connection": {"priceListId": "6f0c8f0e-3a53-4b2a-9a51-0d8f5f0b7a11", "currencyId": "b7e2c065-bd52-40ca-b508-3accdd538860", "timeZone": "America/Mexico_City"}}`,
	"order":      `{"sale": {"id": 29079294, "dateCreated": "2026-11-26T07:17:40Z", "mobileDateCreated": "2026-11-26T07:14:32Z", "vatRate": 16, "comment": "entregar temprano"}, "seller": {"id": 1, "name": "Beto Ventas", "email": "beto@example.com"}, "customer": {"code": "C-1", "description": "Abarrotes Lupita"}, "connection": {"priceListId": "6f0c8f0e-3a53-4b2a-9a51-0d8f5f0b7a11", "currencyId": "b7e2c065-bd52-40ca-b508-3accdd538860", "timeZone": "America/Mexico_City"}}`,
	"client":     `{"customer": {"code": "C-1", "description": "Abarrotes Lupita", "rfc": ""}, "connection": {"priceListId": "6f0c8f0e-3a53-4b2a-9a51-0d8f5f0b7a11", "ledgerAccount": "105-01-001"}}`,
	"product":    `{"product": {"code": "F-001", "description": "Frijol 1kg", "price": 24.5, "basePrice": 24.5, "vatRate": 0}, "connection": {"currencyId": "b7e2c065-bd52-40ca-b508-3accdd538860"}}`,
	"warehouse":  `{"seller": {"id": 1, "name": "Beto Ventas", "extras": "Almacén Norte"}, "connection": {"warehouse": "Matriz"}}`,
}

func (c *Console) previewPage(w http.ResponseWriter, r *http.Request) {
	d := previewData{Target: "order_line", Targets: []string{"order", "order_line", "client", "product", "warehouse"}}
	if t := r.URL.Query().Get("target"); sampleInputs[t] != "" {
		d.Target = t
	}
	d.Input = sampleInputs[d.Target]
	c.previewRender(w, r, d, http.StatusOK, "")
}

func (c *Console) preview(w http.ResponseWriter, r *http.Request) {
	d := previewData{Version: r.PostFormValue("version"), Target: r.PostFormValue("target"), Input: r.PostFormValue("input"),
		Targets: []string{"order", "order_line", "client", "product", "warehouse"}}
	res, err := pb.NewMappingServiceClient(c.o.Conn).PreviewMapping(api(r), &pb.PreviewMappingRequest{
		Mapping: &pb.MappingRef{Ref: &pb.MappingRef_Version{Version: d.Version}}, Target: d.Target, InputJson: d.Input})
	if err != nil {
		// The message already says what each field violation says.
		c.previewRender(w, r, d, http.StatusBadRequest, status.Convert(err).Message())
		return
	}
	var pretty any
	if json.Unmarshal([]byte(res.GetPayloadJson()), &pretty) == nil {
		b, _ := json.MarshalIndent(pretty, "", "  ")
		d.Payload = string(b)
	}
	d.Fields = res.GetFields()
	c.previewRender(w, r, d, http.StatusOK, "")
}

func (c *Console) previewRender(w http.ResponseWriter, r *http.Request, d previewData, code int, errText string) {
	list, err := pb.NewMappingServiceClient(c.o.Conn).ListMappings(api(r), &pb.ListMappingsRequest{})
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Versions = list.GetMappings()
	if d.Version == "" && len(d.Versions) > 0 {
		d.Version = d.Versions[0].GetVersion() // newest first
	}
	c.render(w, r, "preview", code, page{Title: "Mapping preview", Nav: "preview", Error: errText, Data: d})
}
