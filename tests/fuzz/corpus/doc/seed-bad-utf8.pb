idÿR
ok Ã( text