"""Clients of Curve's control services: the MDS (CurveFSService) and the home of RBD-only state."""
