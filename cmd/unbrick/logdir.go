package main

import (
	"os"
	"runtime"
	"strings"
)

// defaultLogDir is where fix, undo and ship keep the fleet log when --log
// is not given (the Linux stick's init passes its LOGS partition). On
// Linux it is unbrick-logs in the working directory. On Windows it is
// unbrick-logs beside unbrick.exe: on a WinPE stick the program runs from
// the stick, so the logs stay on it and not on WinPE's RAM disk X:, and on
// a Hyper-V host they stay with the tool.
var defaultLogDir = logDirBeside(runtime.GOOS, os.Executable)

// logDirBeside is defaultLogDir for goos, with exe giving the path of the
// running program.
func logDirBeside(goos string, exe func() (string, error)) string {
	const name = "unbrick-logs"
	if goos != "windows" {
		return name
	}
	p, err := exe()
	if err != nil {
		return name
	}
	i := strings.LastIndexAny(p, `\/`)
	if i < 0 {
		return name
	}
	return p[:i+1] + name
}
