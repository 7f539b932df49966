package cli

import (
	"context"
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"

	pb "github.com/handybind/handybind/gen/handybind/v1"
)

// compareServer answers CompareMapping with a given response; the dry run itself is tested with
// the service, this is what the command makes of the answer.
type compareServer struct {
	pb.UnimplementedConnectionServiceServer
	res *pb.CompareMappingResponse
}

func (s *compareServer) CompareMapping(context.Context, *pb.CompareMappingRequest) (*pb.CompareMappingResponse, error) {
	return s.res, nil
}

func serveCompare(t *testing.T, res *pb.CompareMappingResponse) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := grpc.NewServer()
	pb.RegisterConnectionServiceServer(srv, &compareServer{res: res})
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(srv.Stop)
	return l.Addr().String()
}

// TestMappingDiffExitStatus: a script that runs the dry run before switching versions stops when
// the candidate would refuse a sale the pinned version sends (2, in text and in JSON), and can
// tell that from a diff that could not be made (1); changed fields and sales both versions refuse
// do not stop it.
func TestMappingDiffExitStatus(t *testing.T) {
	t.Parallel()
	changed := &pb.SaleComparison{HandySaleId: "101", BindOrderId: "o-1",
		Changes: []*pb.FieldChange{{Path: "order.Comments", OldValueJson: `"a"`, NewValueJson: `"b"`}}}
	bothRefuse := &pb.SaleComparison{HandySaleId: "102", BindOrderId: "o-2", PinnedRefusal: "no warehouse", CandidateRefusal: "no warehouse"}
	newlyRefused := &pb.SaleComparison{HandySaleId: "103", BindOrderId: "o-3", CandidateRefusal: "rule order.Comments: division by zero"}

	for _, tc := range []struct {
		name  string
		sales []*pb.SaleComparison
		fails bool
	}{
		{"changed fields", []*pb.SaleComparison{changed}, false},
		{"refused by both", []*pb.SaleComparison{changed, bothRefuse}, false},
		{"refused by the candidate only", []*pb.SaleComparison{changed, bothRefuse, newlyRefused}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr := serveCompare(t, &pb.CompareMappingResponse{PinnedVersion: "v2", CandidateVersion: "v3", Sales: tc.sales})
			for _, format := range [][]string{nil, {"--json"}} {
				args := append([]string{"mapping", "diff", "--connection", "c-1", "--version", "v3", "--addr", addr, "--api-key", "k"}, format...)
				out, errOut, code := run(t, args...)
				require.Contains(t, out, "v3", "the comparison is printed either way")
				if !tc.fails {
					require.Equal(t, 0, code, "%s%s", out, errOut)
					require.Empty(t, errOut)
					continue
				}
				require.Equal(t, 2, code, out)
				require.Equal(t, "handybind: v3 would refuse 1 sale(s) that v2 sends: 103\n", errOut)
			}
		})
	}
}

func TestMappingDiffThatCannotBeMadeExitsOne(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing answers there
	_, errOut, code := run(t, "mapping", "diff", "--connection", "c-1", "--version", "v3", "--addr", addr, "--api-key", "k")
	require.Equal(t, 1, code, errOut)
	require.Contains(t, errOut, "handybind: ")
}

func TestMappingDiffOfNoSalesSaysSo(t *testing.T) {
	t.Parallel()
	addr := serveCompare(t, &pb.CompareMappingResponse{PinnedVersion: "v2", CandidateVersion: "v3"})
	out, _, code := run(t, "mapping", "diff", "--connection", "c-1", "--version", "v3", "--addr", addr, "--api-key", "k")
	require.Equal(t, 0, code)
	require.Contains(t, out, "nothing was compared")
}
