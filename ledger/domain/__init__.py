"""The pure credit domain: values, events and their one fold, commands, deciders and rules."""
