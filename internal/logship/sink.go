package logship

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/unbrick/unbrick/internal/inputfile"
)

// Line is one record read from unbrick.jsonl, as it is sent.
type Line struct {
	ID     string    // record_id
	JSON   []byte    // the record's JSON, without the line end
	Time   time.Time // when the volume was done
	Status string
	RunID  string
	Target string
	Host   string // computer name, else the BitLocker description's
}

// Sink is one place records are sent to.
type Sink interface {
	// String names the sink for people: its URL without credentials.
	String() string
	// Key names the sink's cursor and lock files (no credentials, no
	// path separators).
	Key() string
	// Send delivers lines, in order, or returns why not. An error that
	// wraps ErrRejected is not retried in this run.
	Send(ctx context.Context, lines []Line) error
}

// ErrRejected marks an answer that sending again will not change (the
// receiver refused the records, or its certificate is not trusted).
var ErrRejected = errors.New("rejected")

// errTooLarge: the receiver refused the batch for its size (HTTP 413).
var errTooLarge = errors.New("batch too large")

// sinkKey is a sink's file name: its kind and 12 hex digits of SHA-256 of
// its URL without credentials.
func sinkKey(kind, display string) string {
	sum := sha256.Sum256([]byte(display))
	return kind + "-" + hex.EncodeToString(sum[:6])
}

// LoadCA reads a PEM file of CA certificates to pin: a sink given the pool
// trusts only them, not the system's roots.
func LoadCA(path string) (*x509.CertPool, error) {
	data, err := inputfile.Read(path, "CA certificate file", inputfile.MaxKeyFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("%s holds no PEM certificate (\"-----BEGIN CERTIFICATE-----\"): give the CA certificate that signed the log server's certificate", path)
	}
	return pool, nil
}
