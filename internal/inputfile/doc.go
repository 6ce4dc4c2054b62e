// Package inputfile reads the files a user hands unbrick whole (key
// exports, BEK files, rules, undo journals, configuration) with a size
// limit and a file-type check, so that a device, a FIFO or an oversized
// file given by mistake is refused with a clear error instead of being
// read until memory runs out or blocking forever.
//
//	data, err := inputfile.Read(path, "rules file", inputfile.MaxRules)
//
// The limits are per kind of input; each error names the path, what it
// was expected to be and what to do.
package inputfile
