"""An example vibench block plug-in: the one-level Haar wavelet transform (``haar_dwt``)."""
