// NetnsTesting
