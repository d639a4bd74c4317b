#!/usr/bin/env python3
"""Input-to-repaint latency probe for benches/gui.rs, through Xlib and XTEST with ctypes (no extra
packages). It only talks to the X display in $DISPLAY (the bench's own Xvfb); no network.

  x11_probe.py latency X Y AWAY_X AWAY_Y N -> prints one latency in ms per line:
      the pointer goes to AWAY, the 24x24 square around (X, Y) settles, then the pointer moves
      onto (X, Y) and the square is polled until its pixels change (hover highlight drawn).
  x11_probe.py firstframe W H TIMEOUT_S -> prints "ready" once the display answers, then the
      ms until the top-left W x H of the screen (sampled every 8 px) first shows at least 12
      distinct colours: a window has drawn text (an empty or freshly mapped window is one or two
      colours; the root is black with Xvfb -br), or "timeout".
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


def distinct(d, root, w, h):
    img = x11.XGetImage(d, root, 0, 0, w, h, ALL_PLANES, Z_PIXMAP)
    if not img:
        return 0
    px = {x11.XGetPixel(img, i, j) for j in range(0, h, 8) for i in range(0, w, 8)}
    x11.XDestroyImage(img)
    return len(px)


def firstframe(w, h, timeout):
    d = None
    end = time.monotonic() + 10
    while not d and time.monotonic() < end:
        d = x11.XOpenDisplay(None)
        if not d:
            time.sleep(0.05)
    if not d:
        raise SystemExit("cannot open display")
    root = x11.XDefaultRootWindow(d)
    print("ready", flush=True)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if distinct(d, root, w, h) >= 12:
            print(f"{(time.perf_counter() - t0) * 1000:.1f}", flush=True)
            return
        time.sleep(0.002)
    print("timeout", flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "firstframe":
        firstframe(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
        raise SystemExit(0)
    if len(sys.argv) == 7 and sys.argv[1] == "latency":
        latency(*map(int, sys.argv[2:6]), int(sys.argv[6]))
    else:
        raise SystemExit(__doc__)
