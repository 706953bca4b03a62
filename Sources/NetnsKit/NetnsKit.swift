// NetnsKit
