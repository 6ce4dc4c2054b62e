package main

// commands lists every subcommand, in the order the usage text shows them.
// Add a subcommand by adding one line here and a file of its own.
func commands() []command {
	return []command{
		{"version", "print the unbrick version", runVersion},
	}
}
