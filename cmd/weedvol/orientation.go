package main

// jpgOrientationSupported says whether uploads can be rotated by their
// EXIF orientation (-images.fix.orientation).
const jpgOrientationSupported = false
