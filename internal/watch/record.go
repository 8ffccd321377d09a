package watch

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/dandan-sre/dandan/internal/tail"
)

// A journal record is one commit of the agent: the file positions of every
// job and the samples counted up to them, written with one write so that
// a crash keeps both or neither.
//
//	'W' 1 | uvarint len(meta) | meta (JSON) | payload
//
// The payload is a snappy-compressed Prometheus remote_write request, so
// remote_write outputs send it as it is.
const (
	recordMagic   = 'W'
	recordVersion = 1
)

// recordMeta is the part of a record that is not samples.
type recordMeta struct {
	T     int64                      `json:"t"`     // commit time, Unix ms
	Files map[string][]tail.Position `json:"files"` // positions by job
}

func encodeRecord(dst []byte, meta *recordMeta, payload []byte) ([]byte, error) {
	mb, err := json.Marshal(meta)
	if err != nil {
		return nil, err
	}
	dst = append(dst, recordMagic, recordVersion)
	dst = binary.AppendUvarint(dst, uint64(len(mb)))
	dst = append(dst, mb...)
	return append(dst, payload...), nil
}

// decodeRecord splits a record; meta is decoded only when m is not nil.
func decodeRecord(rec []byte, m *recordMeta) (payload []byte, err error) {
	if len(rec) < 3 || rec[0] != recordMagic {
		return nil, errors.New("not a watch record")
	}
	if rec[1] != recordVersion {
		return nil, fmt.Errorf("watch record version %d, want %d", rec[1], recordVersion)
	}
	n, k := binary.Uvarint(rec[2:])
	if k <= 0 || uint64(len(rec)-2-k) < n {
		return nil, errors.New("watch record: bad meta length")
	}
	meta := rec[2+k : 2+k+int(n)]
	if m != nil {
		if err := json.Unmarshal(meta, m); err != nil {
			return nil, fmt.Errorf("watch record meta: %w", err)
		}
	}
	return rec[2+k+int(n):], nil
}
