"""The torch side: block implementations that are not plain torch layers (natives) and build().

Importing this package does not import torch; ``vibench.runtime.build`` does.
"""
