//go:build !unix

package disk

import "os"

// identity is not available here: no snapshot-chain check.
func identity(os.FileInfo) (fileID, bool) { return fileID{}, false }
