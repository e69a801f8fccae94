package bot

// Command is a bot command for Telegram's command menu (setMyCommands).
type Command struct {
	// Name is the command without slash: 1-32 characters of [a-z0-9_].
	Name string
	// Description is shown next to it: 1-256 characters, in the menu's language.
	Description string
}

// commands are the commands Lotse offers, with their description ids.
var commands = []struct{ name, id string }{
	{"start", "CommandStart"},
	{"topics", "CommandTopics"},
	{"events", "CommandEvents"},
	{"near", "CommandNear"},
	{"subscriptions", "CommandSubscriptions"},
	{"volunteer", "CommandVolunteer"},
	{"language", "CommandLanguage"},
	{"help", "CommandHelp"},
	{"privacy", "CommandPrivacy"},
	{"mydata", "CommandMyData"},
	{"forget", "CommandForget"},
}

// requestCommands are offered when staff receive requests (Config.Staff).
var requestCommands = []struct{ name, id string }{
	{"person", "CommandPerson"},
	{"mytickets", "CommandMyTickets"},
}

// Commands lists the commands with descriptions in lang, for the
// transport to register per language with setMyCommands.
func (b *Bot) Commands(lang string) []Command {
	all := commands
	if b.cfg.Staff != nil {
		all = append(append(all[:0:0], commands[:2]...), append(requestCommands, commands[2:]...)...)
	}
	out := make([]Command, 0, len(all))
	for _, c := range all {
		out = append(out, Command{Name: c.name, Description: b.cfg.Catalog.T(lang, c.id, nil)})
	}
	return out
}
