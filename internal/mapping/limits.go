package mapping

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/handybind/handybind/internal/money"
)

// Limits that keep checking a mapping cheap, whoever wrote it. ValidateMapping, TestMapping and
// PreviewMapping compile and run sources that callers send: together these bounds keep what one
// such call can make the service build to a few tens of megabytes and about a second, and every
// refusal says which bound was hit.
const (
	maxSourceSize  = 1 << 20 // bytes of a mapping file
	maxSourceItems = 50_000  // lines, keys and list items of a file: each costs YAML ~250 bytes to read
	maxSourceDepth = 100     // nesting of [ and { in a file
	maxTests       = 1000    // test cases of a file
	maxTestsInput  = 4 << 20 // JSON of all test inputs of a file, aliases expanded
	maxInputJSON   = 1 << 20 // JSON of one test input (aliases expanded) or preview input
	maxInputDepth  = 32      // nesting of one test input
	maxProblems    = 100     // problems reported for one file; one more says there are others

	maxRuleLength = 2000 // characters of one expression
	maxRuleNodes  = 300  // syntax nodes of one expression
	maxRuleDepth  = 64   // nesting of ( [ { in one expression

	maxText         = 1 << 20  // bytes of one text (or list, at 16 bytes an item) a rule builds
	maxPreviewLines = 1000     // lines of one order preview
	maxCheckWork    = 16 << 20 // bytes one check's rules may build, garbage included

	// Decimals a rule reads from text (as many digits as amounts read from JSON), and the results
	// of arithmetic on them.
	maxDecText       = 64  // bytes of the text
	maxDecDigits     = 40  // digits of the number
	maxDecExponent   = 18  // its exponent, either way
	maxResultDigits  = 100 // digits, or exponent either way, of a result
	maxResultBits    = 333 // 2^333 > 10^100
	maxCutset        = 256 // bytes of trim's second argument
	maxLayout        = 256 // bytes of formatDate's layout
	maxShownInErrors = 80  // bytes of a name or value quoted in a message
)

// checkTimeout is how long one check may run; a variable only so that a test can shorten it.
var checkTimeout = time.Second

// LimitError is a check refused or stopped by one of the limits that keep it cheap; its message
// says which. The API answers it as RESOURCE_EXHAUSTED.
type LimitError struct{ msg string }

func (e *LimitError) Error() string { return e.msg }

func limitf(format string, args ...any) *LimitError {
	return &LimitError{msg: fmt.Sprintf(format, args...)}
}

// IsLimit reports whether err is, or wraps, a LimitError.
func IsLimit(err error) bool {
	var le *LimitError
	return errors.As(err, &le)
}

// sizeText writes a byte count for people: "1 MiB", "1.3 MiB", "640 KiB", "12 bytes".
func sizeText(n int) string {
	switch {
	case n >= 1<<20:
		return trimZeros(fmt.Sprintf("%.2f", float64(n)/(1<<20))) + " MiB"
	case n >= 1<<10:
		return trimZeros(fmt.Sprintf("%.2f", float64(n)/(1<<10))) + " KiB"
	}
	return fmt.Sprintf("%d bytes", n)
}

func trimZeros(s string) string {
	return strings.TrimSuffix(strings.TrimRight(s, "0"), ".")
}

// clip shortens a name or value quoted in a message: a message never repeats a megabyte of input.
func clip(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return fmt.Sprintf("%s… (%s in all)", s[:cut], sizeText(len(s)))
}

// short is clip at the length of names in messages.
func short(s string) string { return clip(s, maxShownInErrors) }

// scanSource refuses, before YAML reads it, a source that would be costly to read: YAML builds a
// node of about 250 bytes per key or list item, and nests as deep as brackets go. The scan is
// cheap and conservative: it counts every line break, comma, colon, dash and bracket, quoted or
// not, which a real mapping file has a few thousand of.
func scanSource(src []byte) *Problem {
	if len(src) > maxSourceSize {
		return &Problem{Line: 1, Message: fmt.Sprintf("the mapping source is too large: %d bytes (%s); the limit is %s", len(src), sizeText(len(src)), sizeText(maxSourceSize))}
	}
	items, depth, line := 0, 0, 1
	for _, c := range src {
		switch c {
		case '\n':
			items++
			line++
		case '\r', ',', ':', '-', '?':
			items++
		case '[', '{':
			items++
			depth++
			if depth > maxSourceDepth {
				return &Problem{Line: line, Message: fmt.Sprintf("the mapping source nests brackets more than %d levels deep", maxSourceDepth)}
			}
		case ']', '}':
			depth = max(depth-1, 0)
		}
	}
	for _, lineBreak := range []string{"\u0085", "\u2028", "\u2029"} {
		items += bytes.Count(src, []byte(lineBreak))
	}
	if items > maxSourceItems {
		return &Problem{Line: 1, Message: fmt.Sprintf("the mapping source has %d lines, keys and list items; the limit is %d", items, maxSourceItems)}
	}
	return nil
}

// ruleDepth is how deep an expression nests parentheses, brackets and braces outside its quoted
// text.
func ruleDepth(src string) int {
	depth, deepest := 0, 0
	var quote byte
	for i := 0; i < len(src); i++ {
		c := src[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '"' || c == '\'' || c == '`':
			quote = c
		case c == '(' || c == '[' || c == '{':
			depth++
			deepest = max(deepest, depth)
		case c == ')' || c == ']' || c == '}':
			depth = max(depth-1, 0)
		}
	}
	return deepest
}

// meter is the budget of one check (a TestMapping or PreviewMapping call, a file's tests when it
// loads): the memory its rules may build and the time they may take. Rules cannot loop, so every
// step they take is one node of their expression or one call of a function; each rule run is
// charged its size, and each function call what it builds, before it builds it. Rules of one check
// run one after the other, so a meter is only used by one goroutine at a time.
type meter struct {
	ctx     context.Context
	left    int
	stopped error // why the check stopped; every later charge fails with it
}

// newMeter starts the budget of one check; cancel releases its timer.
func newMeter(ctx context.Context) (*meter, context.CancelFunc) {
	ctx, cancel := context.WithTimeoutCause(ctx, checkTimeout, limitf("mapping check took longer than %v and was stopped", checkTimeout))
	return &meter{ctx: ctx, left: maxCheckWork}, cancel
}

// spend charges n bytes of work. It fails once the budget is spent, the time is up or the caller
// has gone; a nil meter (rules run by a sync, on trusted mappings) charges nothing.
func (m *meter) spend(n int) error {
	if m == nil {
		return nil
	}
	if m.stopped != nil {
		return m.stopped
	}
	m.left -= n
	switch {
	case m.left < 0:
		m.stopped = limitf("mapping check needed more than %s of memory and was stopped", sizeText(maxCheckWork))
	case m.ctx.Err() != nil:
		m.stopped = context.Cause(m.ctx)
	}
	return m.stopped
}

// err is why the check stopped, or nil.
func (m *meter) err() error {
	if m == nil {
		return nil
	}
	return m.stopped
}

// checks maps the environment of every rule run that is part of a check to the check's meter: the
// functions rules call are given the environment, and find the meter here. Each check makes its
// own environments, so a pointer is never in two checks; a sync's environments are not here, and
// charge nothing.
var checks sync.Map // environment (a pointer) → *meter

// checking counts the environments in checks, so that a sync's calls, while no check runs, skip
// the look-up.
var checking atomic.Int64

// charge makes the runs on env part of the check; done ends that.
func (m *meter) charge(env any) (done func()) {
	checking.Add(1)
	checks.Store(env, m)
	return func() {
		checks.Delete(env)
		checking.Add(-1)
	}
}

// meterOf returns the meter of the check env is part of, if any.
func meterOf(env any) *meter {
	if checking.Load() == 0 {
		return nil
	}
	if m, ok := checks.Load(env); ok {
		return m.(*meter)
	}
	return nil
}

// Costs charged to a meter, in bytes: about what the step allocates, rounded up.
const (
	callCost   = 64   // a function call: its arguments and result
	nodeCost   = 32   // a node of an expression, besides the value it boxes
	runCost    = 256  // a rule run: the VM, the conversion and setting the field
	testCost   = 4096 // a test case: its environment, results and messages
	fieldCost  = 128  // a field a preview explains
	stringCost = 16   // a text or list item header
	decodeCost = 6    // a byte of JSON decoded: buffered as it is read, then copied into values
)

// textSize estimates, from above, the length of fmt's %v of v, stopping once it passes limit, and
// counts the values in it. string() uses it to refuse a text before fmt builds it.
func textSize(v any, limit int) (size, values int) {
	var s sizer
	s.limit = limit
	return s.size(reflect.ValueOf(v), true), s.values
}

var (
	decimalType = reflect.TypeFor[money.Decimal]()
	timeType    = reflect.TypeFor[time.Time]()
)

type sizer struct{ limit, values int }

func (s *sizer) size(v reflect.Value, top bool) int {
	s.values++
	if !v.IsValid() {
		return 5 // <nil>
	}
	switch v.Type() {
	case decimalType:
		return maxResultDigits*2 + 8 // every decimal a rule can hold is within these bounds
	case timeType:
		return 64
	}
	switch v.Kind() {
	case reflect.String:
		return v.Len()
	case reflect.Bool:
		return 5
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return 20
	case reflect.Float32, reflect.Float64:
		return 32
	case reflect.Complex64, reflect.Complex128:
		return 68
	case reflect.Interface:
		if v.IsNil() {
			return 5
		}
		return s.size(v.Elem(), top)
	case reflect.Pointer:
		if top && !v.IsNil() {
			return 1 + s.size(v.Elem(), false) // &{…}
		}
		return 20 // an address
	case reflect.Slice, reflect.Array:
		n := 2
		for i := 0; i < v.Len() && n <= s.limit; i++ {
			n += 1 + s.size(v.Index(i), false)
		}
		return n
	case reflect.Map:
		n := 5
		for it := v.MapRange(); it.Next() && n <= s.limit; {
			n += 2 + s.size(it.Key(), false) + s.size(it.Value(), false)
		}
		return n
	case reflect.Struct:
		n := 2
		for i := 0; i < v.NumField() && n <= s.limit; i++ {
			n += 1 + s.size(v.Field(i), false)
		}
		return n
	}
	return 32
}

// jsonSize is the length of s written as a JSON string by encoding/json, from above.
func jsonSize(s string) int {
	n := 2
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\' || c == '\n' || c == '\r' || c == '\t':
				n += 2
			case c < 0x20:
				n += 6
			default:
				n++
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError || r == '\u2028' || r == '\u2029' {
			n += 6
		} else {
			n += size
		}
		i += size
	}
	return n
}
