package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// Connection failures are worded as what to do about them. tlsHint is the
// first rule that matches err; the standard library's words follow in
// parentheses where they add detail.
type tlsHint struct {
	match func(err error, msg string) bool
	text  func(h hintContext) string
	// cause: append the library's text.
	cause bool
	// standalone: the text names the address, so it is not prefixed
	// with "cannot connect to ADDR".
	standalone bool
}

// hintError is a connection error worded as its fix.
type hintError struct {
	text       string
	standalone bool
}

func (e *hintError) Error() string { return e.text }

// hintContext is what a hint may name: the address, the TLS files and
// the flags that set them (--ca or --admin-ca, …).
type hintContext struct {
	addr, ca, cert   string
	caFlag, certFlag string
	err              error
}

var tlsHints = []tlsHint{
	{match: func(err error, msg string) bool {
		return errors.Is(err, syscall.ECONNREFUSED) || strings.Contains(msg, "connection refused")
	}, standalone: true, text: func(h hintContext) string {
		return "no server at " + h.addr + ": is kmsd running? (kmsd dev prints its address)"
	}},
	{match: func(err error, _ string) bool { var e *net.DNSError; return errors.As(err, &e) },
		text: func(h hintContext) string {
			var e *net.DNSError
			errors.As(h.err, &e)
			return "cannot resolve " + e.Name + ": check the host name in " + h.addr
		}},
	{match: func(err error, msg string) bool {
		var e x509.UnknownAuthorityError
		return errors.As(err, &e) || strings.Contains(msg, "certificate signed by unknown authority")
	}, cause: true, text: func(h hintContext) string {
		if h.ca != "" {
			return fmt.Sprintf("the server's certificate is not signed by the CA in %s (%s)", h.caFlag, h.ca)
		}
		return "the server's certificate is not signed by a CA this system trusts: pass " + h.caFlag + " (or --dev-dir for kmsd dev)"
	}},
	{match: func(err error, _ string) bool { var e x509.HostnameError; return errors.As(err, &e) },
		cause: true, text: func(h hintContext) string {
			return "the server's certificate does not name the host in " + h.addr + ": connect by a name or address it holds"
		}},
	{match: func(err error, _ string) bool {
		var e x509.CertificateInvalidError
		return errors.As(err, &e) && e.Reason == x509.Expired
	}, cause: true, text: func(hintContext) string {
		return "the server's certificate has expired or is not valid yet: check this machine's clock, or renew it"
	}},
	{match: func(_ error, msg string) bool { return strings.Contains(msg, "tls: certificate required") },
		text: func(h hintContext) string {
			if h.cert == "" {
				return "the server wants a client certificate: pass " + h.certFlag + " or --dev-dir"
			}
			return "the server wants a client certificate and did not take " + h.cert
		}},
	{match: func(_ error, msg string) bool {
		return strings.Contains(msg, "tls: unknown certificate authority") || strings.Contains(msg, "tls: bad certificate")
	}, text: func(h hintContext) string {
		return "the server refused the client certificate " + h.cert + ": it is not signed by a CA the server trusts"
	}},
	{match: func(_ error, msg string) bool { return strings.Contains(msg, "tls: expired certificate") },
		text: func(h hintContext) string {
			return "the server refused the client certificate " + h.cert + ": it has expired (kmsctl pki issue makes a new one)"
		}},
	{match: func(err error, _ string) bool { var e tls.RecordHeaderError; return errors.As(err, &e) },
		text: func(h hintContext) string {
			return h.addr + " does not speak TLS: is it the KMIP port (5696 by default)?"
		}},
	{match: func(err error, msg string) bool {
		return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || strings.Contains(msg, "connection reset by peer")
	}, text: func(h hintContext) string {
		return "the server closed the connection: it may have refused the client certificate, or " + h.addr + " is not a KMIP port"
	}},
}

// hintFor returns the hint for err, or nil when no rule matches.
func hintFor(err error, h hintContext) *hintError {
	if err == nil {
		return nil
	}
	msg := err.Error()
	h.err = err
	for _, r := range tlsHints {
		if r.match(err, msg) {
			text := r.text(h)
			if r.cause {
				text += " (" + tlsCause(msg) + ")"
			}
			return &hintError{text: text, standalone: r.standalone}
		}
	}
	return nil
}

// tlsCause is the last "x509: …" or "tls: …" part of a TLS error.
func tlsCause(msg string) string {
	msg, _, _ = strings.Cut(msg, " (possibly because")
	for _, p := range []string{"x509: ", "tls: "} {
		if i := strings.LastIndex(msg, p); i >= 0 {
			return strings.TrimRight(msg[i:], `"`)
		}
	}
	return msg
}

// kmipHint words a KMIP connection error; other errors are returned as
// they are.
func (c connConfig) kmipHint(err error) error {
	if h := hintFor(err, hintContext{addr: c.server, ca: c.ca, cert: c.cert, caFlag: "--ca", certFlag: "--cert/--key"}); h != nil {
		return h
	}
	return err
}

// connectErr is "cannot connect to ADDR: …" unless the hint names the
// address itself.
func connectErr(addr string, err error) error {
	var h *hintError
	if errors.As(err, &h) && h.standalone {
		return h
	}
	return fmt.Errorf("cannot connect to %s: %w", addr, err)
}
