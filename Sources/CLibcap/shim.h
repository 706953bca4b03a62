#include <netinet/in.h>
#include <sys/capability.h>
