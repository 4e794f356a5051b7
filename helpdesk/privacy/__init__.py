"""Personal data (个人信息保护法): retention periods and their sweep, phone masking, and the admin's
export or erasure of one applicant's data."""
