//! ICMP/ICMPv6 echo probes (to be written).
