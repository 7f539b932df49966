package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"

	"google.golang.org/grpc/test/bufconn"

	"github.com/handybind/handybind/internal/auth"
)

// gatewayListener is an in-memory listener whose connections carry auth.GatewayAddr as their
// address, so that the guard knows a call came through this process's own REST gateway.
type gatewayListener struct{ *bufconn.Listener }

func newGatewayListener() *gatewayListener { return &gatewayListener{bufconn.Listen(1 << 20)} }

func (l *gatewayListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return gatewayConn{c}, nil
}

func (l *gatewayListener) Addr() net.Addr { return auth.GatewayAddr{} }

// DialContext opens a connection to the listener.
func (l *gatewayListener) DialContext(ctx context.Context) (net.Conn, error) {
	return l.Listener.DialContext(ctx)
}

type gatewayConn struct{ net.Conn }

func (gatewayConn) RemoteAddr() net.Addr { return auth.GatewayAddr{} }
func (gatewayConn) LocalAddr() net.Addr  { return auth.GatewayAddr{} }

// tlsConfig builds the listeners' TLS configuration, or nil when TLS is off. With a client CA,
// a certificate is verified when a client presents one; API keys keep working without.
func (c Config) tlsConfig() (*tls.Config, error) {
	if c.TLSCert == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.ClientCA != "" {
		pem, err := os.ReadFile(c.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client-ca: %s holds no PEM certificate", c.ClientCA)
		}
		cfg.ClientCAs = pool
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
	}
	return cfg, nil
}
