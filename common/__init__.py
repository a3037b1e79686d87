"""What every layer shares and nothing else: the package's error root and the input readers and
validators that settings, station, element and scenario files all go through. Imports nothing
from the rest of lambdarig."""
