// Namespaces
