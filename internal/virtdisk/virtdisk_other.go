//go:build !windows

package virtdisk

// Attach needs Windows' virtdisk.dll: elsewhere it returns an *Error of
// KindUnsupported (on Linux, give the .vhdx itself as TARGET: unbrick
// opens it through qemu-nbd).
func Attach(path string) (*Disk, error) {
	return nil, &Error{Kind: KindUnsupported, Op: "attach", Path: path}
}
