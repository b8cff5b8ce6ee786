package main

import (
	"encoding"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ovh/kmip-go"
	"github.com/ovh/kmip-go/ttlv"
)

// result is what a command prints. JSON output marshals it; table output
// calls writeText.
type result interface {
	writeText(w io.Writer) error
}

const (
	formatTable = "table"
	formatJSON  = "json"
)

func checkFormat(f string) error {
	if f != formatTable && f != formatJSON {
		return fmt.Errorf("invalid --output %q: want table or json", f)
	}
	return nil
}

// emit writes r to w as one JSON document or as human-readable text.
func emit(w io.Writer, format string, r result) error {
	if format == formatJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(r)
	}
	return r.writeText(w)
}

// writeKV writes aligned "key: value" lines.
func writeKV(w io.Writer, pairs ...[2]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	for _, p := range pairs {
		fmt.Fprintf(tw, "%s:\t%s\n", p[0], p[1])
	}
	return tw.Flush()
}

// writeTable writes a header row and rows as aligned columns.
func writeTable(w io.Writer, header []string, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

// Attribute values are printed from their decoded Go types: enums by name,
// bitmasks as flag names, dates as RFC 3339, intervals as durations, byte strings as hex, and
// structures (Name, Link, Digest, …) field by field.
var (
	timeType      = reflect.TypeFor[time.Time]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
	usageMaskType = reflect.TypeFor[kmip.CryptographicUsageMask]()
	storageType   = reflect.TypeFor[kmip.StorageStatusMask]()
	durationType  = reflect.TypeFor[time.Duration]()
)

// plainValue converts a decoded KMIP value into strings, numbers, bools,
// lists and ordered fields, for both output formats.
func plainValue(v reflect.Value) any {
	if !v.IsValid() {
		return nil
	}
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return nil
		}
		v = v.Elem()
	}
	if tv, ok := v.Interface().(ttlv.Value); ok {
		return plainValue(reflect.ValueOf(tv.Value))
	}
	switch t := v.Type(); {
	case t == timeType:
		return v.Interface().(time.Time).UTC().Format(time.RFC3339)
	case t == durationType:
		// An Interval such as Lease Time.
		return durationText(v.Interface().(time.Duration))
	case t == usageMaskType:
		return ttlv.BitmaskStr(v.Interface().(kmip.CryptographicUsageMask), "|")
	case t == storageType:
		return ttlv.BitmaskStr(v.Interface().(kmip.StorageStatusMask), "|")
	case t.Implements(textMarshaler) && t.Kind() != reflect.Struct:
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return fmt.Sprint(v.Interface())
		}
		return string(b)
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return hex.EncodeToString(v.Bytes())
		}
		list := make([]any, v.Len())
		for i := range list {
			list[i] = plainValue(v.Index(i))
		}
		return list
	case reflect.Struct:
		return structFields(v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint()
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	}
	return fmt.Sprint(v.Interface())
}

// field is one member of a structured attribute value. fields keeps the
// KMIP order in both outputs.
type field struct {
	Name  string
	Value any
}

type fields []field

func (fs fields) MarshalJSON() ([]byte, error) {
	var b strings.Builder
	b.WriteByte('{')
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(f.Name)
		v, err := json.Marshal(f.Value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return []byte(b.String()), nil
}

func structFields(v reflect.Value) fields {
	var fs fields
	for i := range v.NumField() {
		sf := v.Type().Field(i)
		if !sf.IsExported() || v.Field(i).IsZero() {
			continue
		}
		fs = append(fs, field{Name: sf.Name, Value: plainValue(v.Field(i))})
	}
	return fs
}

// valueText renders a value from plainValue on one line.
func valueText(p any) string {
	switch p := p.(type) {
	case nil:
		return ""
	case string:
		return p
	case fields:
		parts := make([]string, len(p))
		for i, f := range p {
			parts[i] = f.Name + "=" + valueText(f.Value)
		}
		return strings.Join(parts, " ")
	case []any:
		parts := make([]string, len(p))
		for i, e := range p {
			parts[i] = valueText(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case int64:
		return strconv.FormatInt(p, 10)
	}
	return fmt.Sprint(p)
}

// attrValue pretty prints one attribute value.
func attrValue(v any) any {
	return plainValue(reflect.ValueOf(v))
}
