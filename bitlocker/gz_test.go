package bitlocker

import (
	"compress/gzip"
	"io"
	"os"
)

// readGz returns up to limit bytes of a gzip file.
func readGz(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(z, limit))
}
