package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/handybind/handybind/internal/app"
	"github.com/handybind/handybind/internal/store"
)

// keyJSON is a key as the key commands print it with --json; never the secret or its hash.
type keyJSON struct {
	ID         string `json:"id"`
	Key        string `json:"key,omitempty"`
	Name       string `json:"name,omitempty"`
	Role       string `json:"role"`
	Tenant     string `json:"tenant,omitempty"`
	CertCN     string `json:"certCn,omitempty"`
	CreateTime string `json:"createTime"`
	ExpireTime string `json:"expireTime,omitempty"`
	RevokeTime string `json:"revokeTime,omitempty"`
}

func toKeyJSON(k *store.APIKey) keyJSON {
	out := keyJSON{ID: k.ID, Name: k.Name, Role: string(k.Role), Tenant: k.Tenant, CertCN: k.CertCN, CreateTime: k.CreatedAt.Format(time.RFC3339)}
	if !k.ExpiresAt.IsZero() {
		out.ExpireTime = k.ExpiresAt.Format(time.RFC3339)
	}
	if !k.RevokedAt.IsZero() {
		out.RevokeTime = k.RevokedAt.Format(time.RFC3339)
	}
	return out
}

func newKeysCommand(stdout io.Writer, cfg *app.Config, logger func() (*slog.Logger, error)) *cobra.Command {
	keys := &cobra.Command{
		Use:   "keys",
		Short: "Create, list and revoke API keys (works on the database directly)",
		Long: "API keys let callers in. Each has one role:\n" +
			"  platform    every tenant (Handy's backend)\n" +
			"  partner     the connections and runs of one tenant\n" +
			"  integrator  mapping calls, and reading the runs of one tenant\n" +
			"Only a hash of a key is stored: the key is printed once, when it is created.",
	}
	open := func(cmd *cobra.Command) (*app.KeyAdmin, error) {
		log, err := logger()
		if err != nil {
			return nil, err
		}
		return app.OpenKeyAdmin(cmd.Context(), *cfg, log)
	}

	var role, tenant, name, certCN string
	var expiresIn time.Duration
	var asJSON bool
	create := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print it once, on the last line",
		Example: "  handybind keys create --role partner --tenant acme --name \"Acme implementer\"\n" +
			"  handybind keys create --role platform --name handy-backend --expires-in 8760h",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ka, err := open(cmd)
			if err != nil {
				return err
			}
			defer ka.Close()
			req := app.NewKeyRequest{Role: store.Role(role), Tenant: tenant, Name: name, CertCN: certCN}
			if cmd.Flags().Changed("expires-in") {
				if expiresIn < time.Minute {
					return fmt.Errorf("--expires-in %s: a key must live at least a minute (for example 720h); leave the flag out for a key that does not expire", expiresIn)
				}
				req.ExpiresAt = time.Now().Add(expiresIn)
			}
			plain, k, err := ka.Create(cmd.Context(), req)
			if err != nil {
				return err
			}
			if asJSON {
				out := toKeyJSON(k)
				out.Key = plain
				return json.NewEncoder(stdout).Encode(out)
			}
			scope := "every tenant"
			if k.Tenant != "" {
				scope = "tenant " + k.Tenant
			}
			fmt.Fprintf(stdout, "Created %s key %s for %s. Keep the key below; it is not shown again.\n%s\n", k.Role, k.ID, scope, plain)
			return nil
		},
	}
	cf := create.Flags()
	cf.StringVar(&role, "role", "", "platform, partner or integrator (required)")
	cf.StringVar(&tenant, "tenant", "", "the tenant (Handy company) a partner or integrator key is confined to")
	cf.StringVar(&name, "name", "", "who the key is for, shown in lists")
	cf.StringVar(&certCN, "cert-cn", "", "let a client certificate with this common name (verified with --client-ca) act as this key")
	cf.DurationVar(&expiresIn, "expires-in", 0, "the key stops working after this long, for example 720h (default: never)")
	cf.BoolVar(&asJSON, "json", false, "print a JSON object with id and key")
	_ = create.MarkFlagRequired("role")

	var all, listJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ka, err := open(cmd)
			if err != nil {
				return err
			}
			defer ka.Close()
			ks, err := ka.List(cmd.Context(), all)
			if err != nil {
				return err
			}
			if listJSON {
				out := make([]keyJSON, len(ks))
				for i, k := range ks {
					out[i] = toKeyJSON(k)
				}
				return json.NewEncoder(stdout).Encode(map[string]any{"keys": out})
			}
			tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLE\tTENANT\tNAME\tCREATED\tEXPIRES\tREVOKED")
			now := time.Now()
			for _, k := range ks {
				j := toKeyJSON(k)
				expires := dash(j.ExpireTime)
				if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
					expires += " (expired)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", j.ID, j.Role, dash(j.Tenant), dash(j.Name), j.CreateTime, expires, dash(j.RevokeTime))
			}
			return tw.Flush()
		},
	}
	list.Flags().BoolVar(&all, "all", false, "include revoked keys")
	list.Flags().BoolVar(&listJSON, "json", false, "print JSON")

	revoke := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key; every replica refuses it within seconds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ka, err := open(cmd)
			if err != nil {
				return err
			}
			defer ka.Close()
			k, err := ka.Revoke(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "Revoked %s at %s.\n", k.ID, k.RevokedAt.Format(time.RFC3339))
			return nil
		},
	}
	keys.AddCommand(create, list, revoke)
	return keys
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
