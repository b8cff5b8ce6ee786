package main

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/kmipserver"
	"github.com/ovh/kmip-go/payloads"
)

// silentListener accepts connections and never answers: a TLS handshake
// with it hangs until the client gives up.
func silentListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

// plainListener answers every connection with HTTP, not TLS.
func plainListener(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\n"))
			_ = c.Close()
		}
	}()
	return ln.Addr().String()
}

func TestServerFailover(t *testing.T) {
	clearEnv(t)
	addr, devDir, _ := startFakeKMS(t)
	closed, plain := closedPort(t), plainListener(t)

	t.Run("refused, then not TLS, then the server", func(t *testing.T) {
		list := closed + "," + plain + "," + addr
		out, errOut, code := kmsctl(t, "--server", list, "--dev-dir", devDir, "-v", "key", "create")
		if code != 0 || out == "" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
		}
		want := []string{
			"kmsctl: no server at " + closed + ": is kmsd running? (kmsd dev prints its address); trying " + plain + "\n",
			"kmsctl: cannot connect to " + plain + ": " + plain + " does not speak TLS: is it the KMIP port (5696 by default)?; trying " + addr + "\n",
			"kmsctl: connected to " + addr + " (KMIP 1.4)\n",
		}
		if errOut != strings.Join(want, "") {
			t.Errorf("stderr\n%s\nwant\n%s", errOut, strings.Join(want, ""))
		}
		// Quiet without --verbose.
		ok(t, []string{"--server", list, "--dev-dir", devDir}, "key", "create")
	})
	t.Run("a node that never answers gets its share of --timeout", func(t *testing.T) {
		start := time.Now()
		ok(t, []string{"--server", silentListener(t) + "," + addr, "--dev-dir", devDir, "--timeout", "4s"}, "key", "locate")
		if d := time.Since(start); d < 2*time.Second || d > 4*time.Second {
			t.Errorf("took %v, want about half of --timeout for the silent node", d)
		}
	})
	t.Run("none answers", func(t *testing.T) {
		fails(t, []string{"--server", closed + ", " + plain, "--dev-dir", devDir},
			"no address of --server answered: no server at "+closed+": is kmsd running? (kmsd dev prints its address); cannot connect to "+plain+": ", "key", "locate")
		fails(t, []string{"--server", " , ", "--dev-dir", devDir}, "--server names no address", "key", "locate")
	})
	t.Run("a KMIP error is not a reason to fail over", func(t *testing.T) {
		refusing, refusingDir, _ := startFakeKMSWith(t, func(e *kmipserver.BatchExecutor) {
			e.Route(kmip.OperationDiscoverVersions, kmipserver.HandleFunc(func(context.Context, *payloads.DiscoverVersionsRequestPayload) (*payloads.DiscoverVersionsResponsePayload, error) {
				return nil, kmipserver.ErrPermissionDenied
			}))
		})
		// Both fake servers have a PKI of their own; the refusing one
		// comes first and answers, so the second is never tried.
		fails(t, []string{"--server", refusing + "," + addr, "--dev-dir", refusingDir},
			"cannot connect to "+refusing+": discover versions: permission denied", "key", "locate")
	})
}

func TestAdminFailover(t *testing.T) {
	clearAdminEnv(t)
	e := startAdmin(t)
	closed := closedPort(t)
	out, errOut, code := kmsctl(t, "--admin", closed+","+e.addr, "--dev-dir", e.devDir, "-v", "status")
	if code != 0 || !strings.Contains(out, "node:") || !strings.Contains(out, e.addr) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	want := "kmsctl: no server at " + closed + ": is kmsd running? (kmsd dev prints its address); trying " + e.addr + "\n" +
		"kmsctl: admin API at " + e.addr + "\n"
	if errOut != want {
		t.Errorf("stderr %q, want %q", errOut, want)
	}
	ok(t, []string{"--admin", closed + "," + e.addr, "--dev-dir", e.devDir}, "cluster", "members")
	fails(t, []string{"--admin", closed + "," + plainListener(t), "--dev-dir", e.devDir}, "no address of --admin answered: no server at "+closed, "status")
}
