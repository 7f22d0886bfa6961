"""draem-inspect application: camera layer, live inspection GUI, retrain wizard and command line."""
