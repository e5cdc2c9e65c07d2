"""Message actions: one function per state change (check, store, announce), one module per kind of change."""
