package apply

import "os/user"

// CLIActor names the operating-system user running the command, as the
// audit log's actor of writes made from the command line.
func CLIActor() string {
	u, err := user.Current()
	if err != nil || u.Username == "" {
		return "cli:unknown"
	}
	return "cli:" + u.Username
}
