#!/usr/bin/env python3
"""Input-to-repaint latency probe for benches/gui.rs, through Xlib and XTEST with ctypes (no extra
packages). It only talks to the X display in $DISPLAY (the bench's own Xvfb); no network.

  x11_probe.py latency X Y AWAY_X AWAY_Y N -> prints one latency in ms per line:
      the pointer goes to AWAY, the 24x24 square around (X, Y) settles, then the pointer moves
      onto (X, Y) and the square is polled until its pixels change (hover highlight drawn).
"""
import ctypes
import sys
import time

x11 = ctypes.cdll.LoadLibrary("libX11.so.6")
xtst = ctypes.cdll.LoadLibrary("libXtst.so.6")
x11.XOpenDisplay.restype = ctypes.c_void_p
x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
x11.XDefaultRootWindow.restype = ctypes.c_ulong
x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
x11.XGetImage.restype = ctypes.c_void_p
x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int,
                          ctypes.c_uint, ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
x11.XGetPixel.restype = ctypes.c_ulong
x11.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
x11.XDestroyImage.argtypes = [ctypes.c_void_p]
x11.XFlush.argtypes = [ctypes.c_void_p]
x11.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                      ctypes.c_ulong]
ALL_PLANES = 0xFFFFFFFF
Z_PIXMAP = 2
SIDE = 24


def square(d, root, x, y):
    img = x11.XGetImage(d, root, x - SIDE // 2, y - SIDE // 2, SIDE, SIDE, ALL_PLANES, Z_PIXMAP)
    if not img:
        raise SystemExit("XGetImage failed")
    px = tuple(x11.XGetPixel(img, i, j) for j in range(0, SIDE, 2) for i in range(0, SIDE, 2))
    x11.XDestroyImage(img)
    return px


def move(d, x, y):
    xtst.XTestFakeMotionEvent(d, -1, x, y, 0)
    x11.XFlush(d)


def settle(d, root, x, y, secs=2.0):
    """Waits until the square is the same for 300 ms (hover fade-out done)."""
    end = time.monotonic() + secs
    last, since = square(d, root, x, y), time.monotonic()
    while time.monotonic() < end:
        time.sleep(0.02)
        now = square(d, root, x, y)
        if now != last:
            last, since = now, time.monotonic()
        elif time.monotonic() - since > 0.3:
            break
    return last


def latency(x, y, away_x, away_y, n):
    d = x11.XOpenDisplay(None)
    if not d:
        raise SystemExit("cannot open display")
    root = x11.XDefaultRootWindow(d)
    for _ in range(n):
        move(d, away_x, away_y)
        before = settle(d, root, x, y)
        t0 = time.perf_counter()
        move(d, x, y)
        deadline = t0 + 2.0
        while time.perf_counter() < deadline:
            if square(d, root, x, y) != before:
                print(f"{(time.perf_counter() - t0) * 1000:.2f}", flush=True)
                break
        else:
            print("timeout", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 7 and sys.argv[1] == "latency":
        latency(*map(int, sys.argv[2:6]), int(sys.argv[6]))
    else:
        raise SystemExit(__doc__)
