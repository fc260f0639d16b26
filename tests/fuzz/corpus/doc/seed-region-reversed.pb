R
short textj