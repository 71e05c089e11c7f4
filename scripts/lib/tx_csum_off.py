#!/usr/bin/python3
"""tx_csum_off.py IFACE...: turns off TX checksum offload (ethtool -K IFACE tx off, without
ethtool). A veth hands frames to its peer with the transport checksum left for "hardware" to
fill in; cgnatd reads them raw with net_af_packet, so the sender must compute it itself."""
import array
import fcntl
import socket
import struct
import sys

SIOCETHTOOL, ETHTOOL_STXCSUM = 0x8946, 0x17

with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    for name in sys.argv[1:]:
        value = array.array("I", [ETHTOOL_STXCSUM, 0])
        ifr = struct.pack("16sP", name.encode(), value.buffer_info()[0])
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
