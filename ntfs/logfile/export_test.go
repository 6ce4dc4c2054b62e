package logfile

// Internals the external tests (package logfile_test) reach.
var (
	ParseLogRecord    = parseLogRecord
	ParseRestartTable = parseRestartTable
	ParseTransactions = parseTransactions
)

const RestartTableHeaderSize = restartTableHeaderSize

// SetMaxLogFileSize lowers the journal size limit for a test; the
// returned function restores it.
func SetMaxLogFileSize(n int64) (restore func()) {
	old := maxLogFileSize
	maxLogFileSize = n
	return func() { maxLogFileSize = old }
}
