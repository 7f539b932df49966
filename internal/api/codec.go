package api

import (
	"errors"
	"strings"
	"unicode/utf8"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// invalidUTF8 stands in for a request string that was not UTF-8, so that validation can name the
// field; no real input can hold it, since it is made of characters validation refuses anyway.
const invalidUTF8 = "\x00\uFFFDinvalid UTF-8\uFFFD\x00"

// Codec is the server's protobuf codec. It decodes like gRPC's own, except that a request with a
// string that is not UTF-8, which protobuf refuses to decode (and gRPC would answer with INTERNAL
// before any interceptor runs), is decoded with that string marked, so that the validation
// interceptor answers INVALID_ARGUMENT naming the field.
func Codec() encoding.CodecV2 { return codec{encoding.GetCodecV2("proto")} }

type codec struct{ encoding.CodecV2 }

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	err := c.CodecV2.Unmarshal(data, v)
	m, ok := v.(proto.Message)
	if err == nil || !ok || !strings.Contains(err.Error(), "invalid UTF-8") {
		return err
	}
	clean, ok := markInvalidStrings(data.Materialize(), m.ProtoReflect().Descriptor(), 0)
	if !ok {
		return err
	}
	proto.Reset(m)
	if uerr := proto.Unmarshal(clean, m); uerr != nil {
		return errors.Join(err, uerr)
	}
	return nil
}

// markInvalidStrings copies a message's wire form, replacing every string field that is not
// UTF-8 with invalidUTF8, nested messages included. ok is false for malformed input.
func markInvalidStrings(b []byte, md protoreflect.MessageDescriptor, depth int) (out []byte, ok bool) {
	if depth > 100 { // protobuf's own recursion limit
		return nil, false
	}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, false
		}
		tag := b[:n]
		b = b[n:]
		fd := md.Fields().ByNumber(num)
		if typ != protowire.BytesType || fd == nil {
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, false
			}
			out = append(append(out, tag...), b[:m]...)
			b = b[m:]
			continue
		}
		v, m := protowire.ConsumeBytes(b)
		if m < 0 {
			return nil, false
		}
		b = b[m:]
		switch {
		case fd.Kind() == protoreflect.StringKind && !utf8.Valid(v):
			v = []byte(invalidUTF8)
		case fd.Kind() == protoreflect.MessageKind:
			if v, ok = markInvalidStrings(v, fd.Message(), depth+1); !ok {
				return nil, false
			}
		}
		out = protowire.AppendBytes(append(out, tag...), v)
	}
	return out, true
}
