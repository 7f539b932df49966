package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/handybind/handybind/gen/handybind/v1"
)

// printProto prints an API message as the REST API writes it (camelCase names).
func printProto(out io.Writer, m proto.Message) error {
	b, err := protojson.Marshal(m)
	if err != nil {
		return err
	}
	// protojson varies its spacing on purpose; indent it the same way every time.
	var buf bytes.Buffer
	if err := json.Indent(&buf, b, "", "  "); err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, buf.String())
	return err
}

func newConnectionsCommand(stdout io.Writer) *cobra.Command {
	var api apiFlags
	var asJSON bool
	cmd := &cobra.Command{Use: "connections", Short: "Read connections from a running service"}
	api.register(cmd)
	cmd.PersistentFlags().BoolVar(&asJSON, "json", false, "print JSON for tools, with the API's field names")

	var tenant, state, pageToken string
	var size int32
	list := &cobra.Command{
		Use: "list", Short: "List connections, their state and health", Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			req := &pb.ListConnectionsRequest{Tenant: tenant, PageSize: size, PageToken: pageToken}
			if state != "" {
				v, ok := pb.ConnectionState_value["CONNECTION_STATE_"+strings.ToUpper(state)]
				if !ok {
					return fmt.Errorf("--state %q is not one of draft, active, paused, error", state)
				}
				req.State = pb.ConnectionState(v)
			}
			res, err := pb.NewConnectionServiceClient(conn).ListConnections(c.Context(), req)
			if err != nil {
				return apiError(err)
			}
			if asJSON {
				return printProto(stdout, res)
			}
			for _, x := range res.GetConnections() {
				health := "-"
				if h := x.GetHealth(); h != nil {
					health = strings.ToLower(strings.TrimPrefix(h.GetState().String(), "HEALTH_STATE_"))
				}
				fmt.Fprintf(stdout, "%s  %-8s %-8s %-10s %s\n", x.GetId(), strings.ToLower(strings.TrimPrefix(x.GetState().String(), "CONNECTION_STATE_")), health, x.GetTenant(), x.GetDisplayName())
			}
			if res.GetNextPageToken() != "" {
				fmt.Fprintf(stdout, "more: --page-token %s\n", res.GetNextPageToken())
			}
			return nil
		},
	}
	list.Flags().StringVar(&tenant, "tenant", "", "only this tenant's connections (platform keys)")
	list.Flags().StringVar(&state, "state", "", "only connections in this state: draft, active, paused or error")
	list.Flags().Int32Var(&size, "page-size", 50, "connections per page")
	list.Flags().StringVar(&pageToken, "page-token", "", "the next page, as the previous one said")

	get := &cobra.Command{
		Use: "get CONNECTION_ID", Short: "Print one connection (tokens only as set or not)", Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			conn, err := api.dial()
			if err != nil {
				return err
			}
			defer conn.Close()
			res, err := pb.NewConnectionServiceClient(conn).GetConnection(c.Context(), &pb.GetConnectionRequest{Id: args[0]})
			if err != nil {
				return apiError(err)
			}
			return printProto(stdout, res)
		},
	}
	cmd.AddCommand(list, get)
	return cmd
}
