package logfile

// Internals the external tests (package logfile_test) reach.
var (
	ParseLogRecord    = parseLogRecord
	ParseRestartTable = parseRestartTable
	ParseTransactions = parseTransactions
)

const RestartTableHeaderSize = restartTableHeaderSize
