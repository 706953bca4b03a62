/// The version `nslab --version` prints: the one place it is written.
let nslabVersion = "0.9.0"
