// Command handybind keeps a Bind ERP company in step with a Handy field-sales account.
package main

import (
	"os"

	"github.com/handybind/handybind/internal/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdout, os.Stderr)) }
