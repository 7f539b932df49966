package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/cobra"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "github.com/handybind/handybind/gen/handybind/v1"
	"github.com/handybind/handybind/internal/auth"
)

// apiFlags say how a command reaches a running service: its gRPC address, the caller's API key,
// and TLS when the service has it.
type apiFlags struct {
	addr, key, caFile string
}

func (a *apiFlags) register(cmd *cobra.Command) {
	f := cmd.PersistentFlags()
	f.StringVar(&a.addr, "addr", "127.0.0.1:9090", "gRPC address of the service")
	f.StringVar(&a.key, "api-key", "", "API key to call with (prefer the environment variable "+EnvPrefix+"API_KEY)")
	f.StringVar(&a.caFile, "ca-file", "", "CA certificate of the service's TLS; without it the call is in plain text (loopback only)")
}

func (a *apiFlags) dial() (*grpc.ClientConn, error) {
	if a.key == "" {
		return nil, errors.New("an API key is needed: --api-key or " + EnvPrefix + "API_KEY")
	}
	transport := insecure.NewCredentials()
	if a.caFile != "" {
		tc, err := credentials.NewClientTLSFromFile(a.caFile, "")
		if err != nil {
			return nil, fmt.Errorf("ca-file: %w", err)
		}
		transport = tc
	}
	return grpc.NewClient(a.addr, grpc.WithTransportCredentials(transport), grpc.WithPerRPCCredentials(auth.Bearer(a.key)))
}

func newRunsCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	var asJSON bool
	runs := &cobra.Command{Use: "runs", Short: "Read sync runs from a running service"}
	api.register(runs)
	runs.PersistentFlags().BoolVar(&asJSON, "json", false, "print the run as JSON for tools")

	get := &cobra.Command{
		Use: "get RUN_ID", Short: "Print one run", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			r, err := pb.NewRunServiceClient(conn).GetRun(cmd.Context(), &pb.GetRunRequest{Id: args[0]})
			if err != nil {
				return apiError(err)
			}
			return printRun(stdout, r, asJSON)
		},
	}
	var every time.Duration
	watch := &cobra.Command{
		Use:   "watch RUN_ID",
		Short: "Follow a run until it ends: a progress bar with rate and ETA in a terminal, plain lines otherwise",
		Long: "Follow a run until it ends. In a terminal it draws a progress bar with the rate and the time left;\n" +
			"otherwise it prints a line at each change. The exit code is 0 when the run succeeded (or\n" +
			"finished with some records failed), 1 when it failed, was abandoned or interrupted.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if every < 100*time.Millisecond {
				return fmt.Errorf("--every %s is too short; give 100ms or more", every)
			}
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			client := pb.NewRunServiceClient(conn)
			w := &watcher{out: stdout, tty: isTerminal(stdout), json: asJSON}
			t := time.NewTicker(every)
			defer t.Stop()
			for {
				r, err := client.GetRun(cmd.Context(), &pb.GetRunRequest{Id: args[0]})
				if err != nil {
					return apiError(err)
				}
				if done := w.show(r, time.Now()); done {
					return w.end(r)
				}
				select {
				case <-cmd.Context().Done():
					return cmd.Context().Err()
				case <-t.C:
				}
			}
		},
	}
	watch.Flags().DurationVar(&every, "every", time.Second, "how often to read the run")

	var connID, kind, state string
	list := &cobra.Command{
		Use: "list --connection ID", Short: "List a connection's runs, newest first", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if connID == "" {
				return errors.New("--connection is required")
			}
			req := &pb.ListRunsRequest{ConnectionId: connID, PageSize: 50}
			if kind != "" {
				v, ok := pb.SyncKind_value["SYNC_KIND_"+strings.ToUpper(kind)]
				if !ok {
					return fmt.Errorf("--kind %q is not one of products, sales, deleted_sales", kind)
				}
				req.Kind = pb.SyncKind(v)
			}
			if state != "" {
				v, ok := pb.RunState_value["RUN_STATE_"+strings.ToUpper(state)]
				if !ok {
					return fmt.Errorf("--state %q is not one of queued, running, succeeded, partial, failed, abandoned, interrupted", state)
				}
				req.State = pb.RunState(v)
			}
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := pb.NewRunServiceClient(conn).ListRuns(cmd.Context(), req)
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				return printProto(stdout, res)
			}
			for _, r := range res.GetRuns() {
				fmt.Fprintf(stdout, "%s  %-13s %-11s %s\n", r.GetId(), kindName(r.GetKind()), stateName(r.GetState()), progressText(r))
			}
			return nil
		},
	}
	list.Flags().StringVar(&connID, "connection", "", "the connection whose runs to list")
	list.Flags().StringVar(&kind, "kind", "", "only runs of this kind: products, sales or deleted_sales")
	list.Flags().StringVar(&state, "state", "", "only runs in this state")
	runs.AddCommand(get, watch, list)
	return runs
}

func printRun(out io.Writer, r *pb.Run, asJSON bool) error {
	if asJSON {
		return printProto(out, r)
	}
	c := r.GetCounts()
	fmt.Fprintf(out, "run %s: %s sync of connection %s, %s\n", r.GetId(), kindName(r.GetKind()), r.GetConnectionId(), stateName(r.GetState()))
	fmt.Fprintf(out, "  processed %s; created %d, updated %d, unchanged %d, deleted %d, skipped %d, waiting %d, failed %d\n",
		progressText(r), c.GetCreated(), c.GetUpdated(), c.GetUnchanged(), c.GetDeleted(), c.GetSkipped(), c.GetWaiting(), c.GetFailed())
	if r.GetError() != "" {
		fmt.Fprintf(out, "  %s\n", r.GetError())
	}
	return nil
}

// watcher draws a run's progress.
type watcher struct {
	out  io.Writer
	tty  bool
	json bool
	// The first reading while running, for the rate.
	startAt        time.Time
	startProcessed int32
	last           string
	lastProgress   string
	lastState      pb.RunState
}

// show draws one reading and says whether the run has ended.
func (w *watcher) show(r *pb.Run, now time.Time) bool {
	ended := r.GetState() != pb.RunState_RUN_STATE_QUEUED && r.GetState() != pb.RunState_RUN_STATE_RUNNING
	if w.json || ended {
		return ended
	}
	if r.GetState() == pb.RunState_RUN_STATE_RUNNING && w.startAt.IsZero() {
		w.startAt, w.startProcessed = now, r.GetProcessed()
	}
	line := w.line(r, now)
	switch {
	case w.tty:
		fmt.Fprintf(w.out, "\r\033[K%s", line)
	case progressText(r) != w.lastProgress || r.GetState() != w.lastState:
		// Outside a terminal, a line when the run moves, not at every reading.
		fmt.Fprintln(w.out, line)
	}
	w.last, w.lastProgress, w.lastState = line, progressText(r), r.GetState()
	return false
}

func (w *watcher) line(r *pb.Run, now time.Time) string {
	if r.GetState() == pb.RunState_RUN_STATE_QUEUED {
		return "queued"
	}
	var b strings.Builder
	if r.Total != nil && r.GetTotal() > 0 {
		const width = 30
		done := min(width, int(r.GetProcessed()*width/r.GetTotal()))
		fmt.Fprintf(&b, "[%s%s] ", strings.Repeat("#", done), strings.Repeat(".", width-done))
	}
	b.WriteString(progressText(r))
	if elapsed := now.Sub(w.startAt).Seconds(); elapsed >= 1 {
		rate := float64(r.GetProcessed()-w.startProcessed) / elapsed
		fmt.Fprintf(&b, "  %.1f/s", rate)
		if r.Total != nil && rate > 0 && r.GetTotal() > r.GetProcessed() {
			eta := time.Duration(float64(r.GetTotal()-r.GetProcessed())/rate) * time.Second
			fmt.Fprintf(&b, "  ETA %s", eta.Round(time.Second))
		}
	}
	return b.String()
}

// end prints the run as it ended and turns a run that did not finish into an error.
func (w *watcher) end(r *pb.Run) error {
	if w.tty && w.last != "" {
		fmt.Fprintln(w.out)
	}
	if err := printRun(w.out, r, w.json); err != nil {
		return err
	}
	switch r.GetState() {
	case pb.RunState_RUN_STATE_SUCCEEDED, pb.RunState_RUN_STATE_PARTIAL:
		return nil
	}
	return errReported
}

func progressText(r *pb.Run) string {
	if r.Total != nil {
		return fmt.Sprintf("%d of %d", r.GetProcessed(), r.GetTotal())
	}
	return fmt.Sprintf("%d", r.GetProcessed())
}

func kindName(k pb.SyncKind) string {
	return strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k.String(), "SYNC_KIND_")), "_", " ")
}

func stateName(s pb.RunState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "RUN_STATE_"))
}

// apiError says what the service answered, in its words, without the RPC plumbing.
func apiError(err error) error {
	st := status.Convert(err)
	var words strings.Builder // NotFound → not found
	for i, r := range st.Code().String() {
		if i > 0 && unicode.IsUpper(r) {
			words.WriteByte(' ')
		}
		words.WriteRune(unicode.ToLower(r))
	}
	return fmt.Errorf("%s: %s", words.String(), st.Message())
}

// isTerminal says whether out is a terminal, where a line can be redrawn in place.
func isTerminal(out io.Writer) bool {
	f, ok := out.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
