package bindsim

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"github.com/shopspring/decimal"
)

// A minimal OData v3 $filter: eq ne gt ge lt le, and, or, not, parentheses, substringof(), and
// literals 'text' (quotes doubled inside), guid'…', datetime'…', numbers, true, false, null.
// Records are matched as their JSON objects, so field names are the API's.

type node interface {
	eval(rec *lazyRecord) (bool, error)
}

type cmpNode struct {
	field, op string
	lit       any // string, decimal.Decimal, bool or nil
}

type boolNode struct {
	op   string // "and", "or"
	l, r node
}

type notNode struct{ n node }

type substringNode struct{ needle, field string }

func (n boolNode) eval(rec *lazyRecord) (bool, error) {
	l, err := n.l.eval(rec)
	if err != nil {
		return false, err
	}
	if n.op == "and" && !l {
		return false, nil
	}
	if n.op == "or" && l {
		return true, nil
	}
	return n.r.eval(rec)
}

func (n notNode) eval(rec *lazyRecord) (bool, error) {
	v, err := n.n.eval(rec)
	return !v, err
}

func lookup(rec *lazyRecord, field string) (any, error) {
	v, ok := rec.get(field)
	if !ok {
		return nil, fmt.Errorf("could not find a property named '%s'", field)
	}
	return v, nil
}

func (n substringNode) eval(rec *lazyRecord) (bool, error) {
	v, err := lookup(rec, n.field)
	if err != nil {
		return false, err
	}
	s, _ := v.(string)
	return strings.Contains(s, n.needle), nil
}

func (n cmpNode) eval(rec *lazyRecord) (bool, error) {
	v, err := lookup(rec, n.field)
	if err != nil {
		return false, err
	}
	var c int
	switch lit := n.lit.(type) {
	case nil:
		c = 1
		if v == nil || v == "" {
			c = 0
		}
		if n.op != "eq" && n.op != "ne" {
			return false, fmt.Errorf("null can only be compared with eq or ne")
		}
	case string:
		s, _ := v.(string)
		c = strings.Compare(s, lit)
		if n.op == "eq" || n.op == "ne" {
			// GUIDs compare without regard to case.
			if strings.EqualFold(s, lit) && looksLikeGUID(lit) {
				c = 0
			}
		}
	case bool:
		b, _ := v.(bool)
		c = 1
		if b == lit {
			c = 0
		}
		if n.op != "eq" && n.op != "ne" {
			return false, fmt.Errorf("booleans can only be compared with eq or ne")
		}
	case decimal.Decimal:
		num, ok := v.(json.Number)
		if !ok {
			return false, fmt.Errorf("property '%s' is not a number", n.field)
		}
		d, err := decimal.NewFromString(num.String())
		if err != nil {
			return false, err
		}
		c = d.Cmp(lit)
	}
	switch n.op {
	case "eq":
		return c == 0, nil
	case "ne":
		return c != 0, nil
	case "gt":
		return c > 0, nil
	case "ge":
		return c >= 0, nil
	case "lt":
		return c < 0, nil
	case "le":
		return c <= 0, nil
	}
	return false, fmt.Errorf("unknown operator %q", n.op)
}

func looksLikeGUID(s string) bool { return len(s) == 36 && strings.Count(s, "-") == 4 }

type parser struct {
	toks []string
	pos  int
}

// parseFilter parses a $filter expression.
func parseFilter(s string) (node, error) {
	toks, err := tokenize(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if p.pos != len(p.toks) {
		return nil, fmt.Errorf("syntax error at position %d: unexpected '%s'", p.pos, p.toks[p.pos])
	}
	return n, nil
}

func (p *parser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

func (p *parser) next() string {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) expect(t string) error {
	if got := p.next(); got != t {
		return fmt.Errorf("syntax error: expected '%s', found '%s'", t, got)
	}
	return nil
}

func (p *parser) or() (node, error) {
	l, err := p.and()
	for err == nil && p.peek() == "or" {
		p.next()
		var r node
		if r, err = p.and(); err == nil {
			l = boolNode{op: "or", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) and() (node, error) {
	l, err := p.unary()
	for err == nil && p.peek() == "and" {
		p.next()
		var r node
		if r, err = p.unary(); err == nil {
			l = boolNode{op: "and", l: l, r: r}
		}
	}
	return l, err
}

func (p *parser) unary() (node, error) {
	switch t := p.peek(); {
	case t == "not":
		p.next()
		n, err := p.unary()
		return notNode{n}, err
	case t == "(":
		p.next()
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		return n, p.expect(")")
	case t == "substringof":
		p.next()
		if err := p.expect("("); err != nil {
			return nil, err
		}
		lit, err := literal(p.next())
		if err != nil {
			return nil, err
		}
		needle, ok := lit.(string)
		if !ok {
			return nil, fmt.Errorf("substringof needs a text literal")
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		f := p.next()
		if !isIdent(f) {
			return nil, fmt.Errorf("syntax error: '%s' is not a property", f)
		}
		return substringNode{needle: needle, field: f}, p.expect(")")
	case isIdent(t):
		p.next()
		op := p.next()
		switch op {
		case "eq", "ne", "gt", "ge", "lt", "le":
		default:
			return nil, fmt.Errorf("syntax error: expected a comparison after '%s', found '%s'", t, op)
		}
		lit, err := literal(p.next())
		if err != nil {
			return nil, err
		}
		return cmpNode{field: t, op: op, lit: lit}, nil
	default:
		return nil, fmt.Errorf("syntax error: unexpected '%s'", t)
	}
}

var keywords = map[string]bool{"and": true, "or": true, "not": true, "eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "substringof": true, "true": true, "false": true, "null": true}

func isIdent(t string) bool {
	if t == "" || keywords[t] || !unicode.IsLetter(rune(t[0])) {
		return false
	}
	for _, r := range t {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && r != '_' {
			return false
		}
	}
	return true
}

func literal(t string) (any, error) {
	switch {
	case t == "null":
		return nil, nil
	case t == "true", t == "false":
		return t == "true", nil
	case strings.HasPrefix(t, "'"):
		return strings.ReplaceAll(t[1:len(t)-1], "''", "'"), nil
	case strings.HasPrefix(t, "guid'"), strings.HasPrefix(t, "datetime'"):
		i := strings.IndexByte(t, '\'')
		return strings.ReplaceAll(t[i+1:len(t)-1], "''", "'"), nil
	}
	d, err := decimal.NewFromString(strings.TrimRight(t, "mMdDlLfF"))
	if err != nil {
		return nil, fmt.Errorf("syntax error: '%s' is not a literal", t)
	}
	return d, nil
}

func tokenize(s string) ([]string, error) {
	var toks []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '(' || c == ')' || c == ',':
			toks = append(toks, string(c))
			i++
		case c == '\'' || ((strings.HasPrefix(s[i:], "guid'") || strings.HasPrefix(s[i:], "datetime'")) && (i == 0 || !isIdentByte(s[i-1]))):
			start := i
			i = strings.IndexByte(s[i:], '\'') + i + 1
			for {
				j := strings.IndexByte(s[i:], '\'')
				if j < 0 {
					return nil, fmt.Errorf("syntax error: unterminated string literal at position %d", start)
				}
				i += j + 1
				if i < len(s) && s[i] == '\'' {
					i++ // doubled quote inside the literal
					continue
				}
				break
			}
			toks = append(toks, s[start:i])
		default:
			start := i
			for i < len(s) && (isIdentByte(s[i]) || s[i] == '.' || s[i] == '-' || s[i] == '+') {
				i++
			}
			if start == i {
				return nil, fmt.Errorf("syntax error: unexpected '%c' at position %d", c, i)
			}
			toks = append(toks, s[start:i])
		}
	}
	return toks, nil
}

func isIdentByte(c byte) bool {
	return c == '_' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}
