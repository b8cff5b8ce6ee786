package fsm

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"strconv"
	"strings"
	"testing"
)

// families are sentinels matched through their members, which have rows.
var families = map[string]bool{"ErrQuotaExceeded": true}

// declaredSentinels parses the package's source and returns each exported
// Err* variable with the text of the error it is declared as (the first
// string literal of its value).
func declaredSentinels(t *testing.T) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	out := map[string]string{}
	for _, ent := range entries {
		if !strings.HasSuffix(ent.Name(), ".go") || strings.HasSuffix(ent.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, ent.Name(), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.VAR {
				continue
			}
			for _, spec := range g.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, name := range vs.Names {
					if !strings.HasPrefix(name.Name, "Err") {
						continue
					}
					if i >= len(vs.Values) {
						t.Fatalf("%s is declared without a value", name.Name)
					}
					var text string
					ast.Inspect(vs.Values[i], func(n ast.Node) bool {
						if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && text == "" {
							text, _ = strconv.Unquote(lit.Value)
						}
						return text == ""
					})
					if text == "" {
						t.Fatalf("%s: no error text found in its declaration", name.Name)
					}
					out[name.Name] = text
				}
			}
		}
	}
	return out
}

// TestErrorCodesCoverSentinels fails when a sentinel is declared without a
// wire code: it would cross from the leader as "command failed".
func TestErrorCodesCoverSentinels(t *testing.T) {
	declared := declaredSentinels(t)
	if len(declared) < 20 {
		t.Fatalf("found only %d sentinels; the parser missed declarations", len(declared))
	}
	byText := map[string]string{}
	for _, e := range errorCodes {
		if _, dup := byText[e.err.Error()]; dup {
			t.Errorf("%q listed twice", e.err)
		}
		byText[e.err.Error()] = e.code
	}
	for name, text := range declared {
		_, mapped := byText[text]
		switch {
		case families[name] && mapped:
			t.Errorf("%s is a family and needs no row", name)
		case !families[name] && !mapped:
			t.Errorf("%s (%q) has no row in errorCodes", name, text)
		}
	}
	if want := len(declared) - len(families); len(errorCodes) != want {
		t.Errorf("errorCodes has %d rows, the package declares %d mapped sentinels", len(errorCodes), want)
	}
	if got := Sentinels(); len(got) != len(errorCodes) {
		t.Errorf("Sentinels returns %d errors", len(got))
	}
}

// TestErrorCodesRoundTrip walks the table through EncodeResult and
// DecodeResult, as a forwarded command's result travels.
func TestErrorCodesRoundTrip(t *testing.T) {
	f := &FSM{}
	for _, e := range errorCodes {
		t.Run(e.code, func(t *testing.T) {
			b, err := f.EncodeResult(&Result{Index: 9, Err: fmt.Errorf("context: %w", e.err)})
			if err != nil {
				t.Fatal(err)
			}
			v, err := f.DecodeResult(b)
			if err != nil {
				t.Fatal(err)
			}
			if r := v.(*Result); r.Index != 9 || r.Err != e.err {
				t.Fatalf("decoded %+v, want %v", r, e.err)
			}
		})
	}
	b, err := f.EncodeResult(&Result{Err: errors.New("something else")})
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.DecodeResult(b); v.(*Result).Err != errUnknownFailure {
		t.Errorf("an unmapped error decoded as %v", v.(*Result).Err)
	}
	if errorOfCode("from_a_newer_node") != errUnknownFailure {
		t.Error("an unknown code did not decode as a failure without detail")
	}
}
