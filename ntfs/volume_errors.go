package ntfs

import (
	"errors"
	"fmt"
)

var (
	// ErrNotNTFS means the volume has no NTFS boot sector signature.
	ErrNotNTFS = errors.New("ntfs: not an NTFS volume (no \"NTFS    \" signature at byte 3); check the partition number, or unlock BitLocker first")
	// ErrCorrupt wraps every structural inconsistency found while parsing.
	ErrCorrupt = errors.New("ntfs: corrupt structure")
	// ErrNotFound means a path component does not exist.
	ErrNotFound = errors.New("ntfs: no such file or directory")
	// ErrNotDirectory means a path component that must be a directory is not one.
	ErrNotDirectory = errors.New("ntfs: not a directory")
	// ErrIsDirectory means file data was asked of a directory.
	ErrIsDirectory = errors.New("ntfs: is a directory")
	// ErrCompressed is returned for compressed data this package cannot decode.
	ErrCompressed = errors.New("ntfs: compressed file, not supported")
	// ErrEncrypted is returned for EFS-encrypted file data.
	ErrEncrypted = errors.New("ntfs: EFS-encrypted file, not supported")
	// ErrTruncated means the image or device ends before the volume does.
	ErrTruncated = errors.New("ntfs: image is shorter than the volume its boot sector describes (truncated copy or wrong partition size)")
)

func corruptf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
}
