@_exported import NetnsModel
@_exported import Netlink
@_exported import Namespaces
@_exported import Probes
