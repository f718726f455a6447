"""Image operations on numpy arrays: warps, color transfers, blur/sharpen, sharpness, drawing."""
