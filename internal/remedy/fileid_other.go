//go:build !unix

package remedy

import "os"

// fileIdentity is not available here: uniqueTargets compares with
// os.SameFile.
func fileIdentity(os.FileInfo) (fileID, bool) { return fileID{}, false }
